package dma_test

import (
	"context"
	crand "crypto/rand"
	"io"
	"os"
	"strconv"
	"testing"
	"time"

	"ferry/internal/dma"
)

// BenchmarkServerlessFull runs a full point-in-time serverless backup of
// a disk of random data (FERRY_BENCH_MIB, default 256) with the target in
// this process, so that -cpuprofile shows the copy manager's path: the
// snapshot's reads, the segments, the tape's writes. It reports MiB/s.
func BenchmarkServerlessFull(b *testing.B) {
	mib := 256
	if v, err := strconv.Atoi(os.Getenv("FERRY_BENCH_MIB")); err == nil && v > 0 {
		mib = v
	}
	size := int64(mib) << 20
	bed := startSnapBedSize(b, size)
	f, err := os.OpenFile(imagePath(b, bed.state, "src"), os.O_WRONLY, 0)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := io.CopyN(f, crand.Reader, size); err != nil {
		b.Fatal(err)
	}
	f.Close()
	ctx := context.Background()
	var d time.Duration
	for b.Loop() {
		start := time.Now()
		res, err := bed.m.ServerlessBackup(ctx, dma.ServerlessRequest{Source: "san/5"})
		d += time.Since(start)
		if err != nil {
			b.Fatal(err)
		}
		if res.ImageBytes != size || !res.PointInTime {
			b.Fatalf("copied %d bytes of %d, point in time %v", res.ImageBytes, size, res.PointInTime)
		}
	}
	b.ReportMetric(float64(size)*float64(b.N)/d.Seconds()/(1<<20), "MiB/s")
}
