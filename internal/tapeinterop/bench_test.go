package tapeinterop

import (
	"context"
	"net"
	"path/filepath"
	"testing"
	"time"

	"ferry/internal/iscsi/initiator"
	"ferry/internal/iscsi/target"
	"ferry/internal/scsi/ssc"
	"ferry/internal/tape"
	"ferry/internal/tape/tapetest"
)

const benchRecord = 256 << 10

// BenchmarkWrite256K compares sequential 256 KiB WRITE(6) commands sent by
// ferry's initiator to a tape LU of ferry's target (loopback TCP) with the
// tape store's own WriteRecord on the same kind of cartridge.
func BenchmarkWrite256K(b *testing.B) {
	data := make([]byte, benchRecord)
	for i := range data {
		data[i] = byte(i * 7)
	}
	b.Run("Medium", func(b *testing.B) {
		tapetest.WriteRecords(b, filepath.Join(tapetest.BenchDir(b), "c.tape"), data)
	})
	b.Run("ISCSI", func(b *testing.B) {
		s := benchTarget(b)
		cdb := []byte{0x0A, 0, benchRecord >> 16, 0, 0, 0}
		ctx := context.Background()
		b.SetBytes(benchRecord)
		for b.Loop() {
			res, err := s.Execute(ctx, 0, cdb, data, 0)
			if err != nil || res.Status != 0 {
				b.Fatalf("WRITE: %+v, %v", res, err)
			}
		}
	})
}

// benchTarget serves one tape LU (LUN 0) on a 1 TiB sparse cartridge.
func benchTarget(b *testing.B) *initiator.Session {
	lib := openLibIn(b, tapetest.BenchDir(b), 1<<40, "B")
	dev := ssc.New(lib, "tape0", ssc.Identity{})
	b.Cleanup(func() { dev.Close() })
	tg, err := target.New(target.Config{Name: targetName, Units: units{0: dev}})
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go tg.Serve(ln)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := initiator.Dial(ctx, ln.Addr().String(), initiator.Config{TargetName: targetName})
	if err != nil {
		b.Fatal(err)
	}
	clearAttention(b, newRemote(s, 0))
	b.Cleanup(func() {
		s.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		tg.Shutdown(ctx)
	})
	return s
}

// BenchmarkWrite256KRatio interleaves WriteRecord and a WRITE over iSCSI
// record by record, so load on the machine falls on both alike, and
// reports the iSCSI path's speed as a fraction of WriteRecord's.
func BenchmarkWrite256KRatio(b *testing.B) {
	data := make([]byte, benchRecord)
	path := filepath.Join(tapetest.BenchDir(b), "c.tape")
	if err := tape.Create(path, tape.Meta{Barcode: "B00001", Capacity: 1 << 40}); err != nil {
		b.Fatal(err)
	}
	m, err := tape.Open(path, false)
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	s := benchTarget(b)
	cdb := []byte{0x0A, 0, benchRecord >> 16, 0, 0, 0}
	ctx := context.Background()
	var direct, remote time.Duration
	b.SetBytes(2 * benchRecord)
	for b.Loop() {
		t0 := time.Now()
		if err := m.WriteRecord(data); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if res, err := s.Execute(ctx, 0, cdb, data, 0); err != nil || res.Status != 0 {
			b.Fatalf("WRITE: %+v, %v", res, err)
		}
		direct, remote = direct+t1.Sub(t0), remote+time.Since(t1)
	}
	b.ReportMetric(float64(direct)/float64(remote), "speed-ratio")
}
