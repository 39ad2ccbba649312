package dma_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"ferry/internal/dma"
	"ferry/internal/testsupport/fstree"
)

// BenchmarkMixed backs up issue 3's mixed tree (500 MB at
// FERRY_BENCH_DIV=1, the default 10 gives 50 MB) end to end (DMA, ferry's
// agent over loopback, tape, file history into SQLite) and restores it to
// a local directory, each beside GNU tar -cf / -xf on the same tree in the
// same run.
func BenchmarkMixed(b *testing.B) {
	div := 10
	if v, err := strconv.Atoi(os.Getenv("FERRY_BENCH_DIV")); err == nil && v > 0 {
		div = v
	}
	tarPath, err := exec.LookPath("tar")
	if err != nil {
		b.Skip("no tar")
	}
	f := newFixtureTB(b)
	src := filepath.Join(f.export, "src")
	if err := os.Mkdir(src, 0o755); err != nil {
		b.Fatal(err)
	}
	spec := fstree.Mixed(div)
	fstree.Build(b, src, spec)
	size := float64(spec.Bytes())
	sync := func() { exec.Command("sync").Run() }
	ctx := context.Background()
	for range b.N {
		work := b.TempDir()
		sync()
		start := time.Now()
		if out, err := exec.Command(tarPath, "-cf", filepath.Join(work, "t.tar"), "-C", src, ".").CombinedOutput(); err != nil {
			b.Fatalf("tar -cf: %v %s", err, out)
		}
		sync()
		tarC := time.Since(start)

		start = time.Now()
		bk, err := dma.Backup(ctx, f.cat, dma.BackupSpec{Agent: f.agent, Path: src})
		if err != nil {
			b.Fatal(err)
		}
		sync()
		ferryC := time.Since(start)

		tx := filepath.Join(work, "tx")
		os.Mkdir(tx, 0o755)
		start = time.Now()
		if out, err := exec.Command(tarPath, "-xf", filepath.Join(work, "t.tar"), "-C", tx).CombinedOutput(); err != nil {
			b.Fatalf("tar -xf: %v %s", err, out)
		}
		sync()
		tarX := time.Since(start)

		start = time.Now()
		if _, err := dma.Restore(ctx, f.cat, dma.RestoreSpec{Agent: f.agent, BackupID: bk.ID, To: filepath.Join(work, "fx")}); err != nil {
			b.Fatal(err)
		}
		sync()
		ferryX := time.Since(start)
		mb := func(d time.Duration) float64 { return size / 1e6 / d.Seconds() }
		b.ReportMetric(mb(tarC), "tar-c-MB/s")
		b.ReportMetric(mb(ferryC), "backup-MB/s")
		b.ReportMetric(mb(tarX), "tar-x-MB/s")
		b.ReportMetric(mb(ferryX), "restore-MB/s")
		b.ReportMetric(float64(bk.Files)/ferryC.Seconds(), "files/s")
		os.RemoveAll(work)
	}
}
