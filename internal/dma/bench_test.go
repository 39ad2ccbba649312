package dma_test

import (
	"context"
	"fmt"
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

// BenchmarkRestoreOneOf200k backs up 200,000 small files (FERRY_BENCH_FILES
// sets another count) once, then restores one file of it per iteration into
// a local directory by direct access. It reports the image size and the
// bytes read from tape per restore beside the whole image's; the peer is
// GNU tar extracting the same one file from a tar file of the same tree,
// which must read the archive up to it.
func BenchmarkRestoreOneOf200k(b *testing.B) {
	n := 200_000
	if v, err := strconv.Atoi(os.Getenv("FERRY_BENCH_FILES")); err == nil && v > 0 {
		n = v
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
	fstree.Build(b, src, fstree.ManySmall(n, 1000))
	ctx := context.Background()
	bk, err := dma.Backup(ctx, f.cat, dma.BackupSpec{Agent: f.agent, Path: src})
	if err != nil {
		b.Fatal(err)
	}
	tarFile := filepath.Join(b.TempDir(), "t.tar")
	if out, err := exec.Command(tarPath, "-cf", tarFile, "-C", src, ".").CombinedOutput(); err != nil {
		b.Fatalf("tar -cf: %v %s", err, out)
	}
	// The last file of the last directory: the worst place for a reader
	// that goes through the stream.
	name := fmt.Sprintf("d%04d/f%06d", (n-1)/1000, n-1)
	var ferryT, tarT time.Duration
	var read int64
	b.ResetTimer()
	for range b.N {
		dest := b.TempDir()
		start := time.Now()
		res, err := dma.Restore(ctx, f.cat, dma.RestoreSpec{Agent: f.agent, BackupID: bk.ID, To: dest, Paths: []string{name}})
		if err != nil || res.Summary.Restored != 1 {
			b.Fatalf("restore %s: %v %+v", name, err, res.Summary)
		}
		ferryT += time.Since(start)
		read += res.Read

		tx := b.TempDir()
		start = time.Now()
		if out, err := exec.Command(tarPath, "-xf", tarFile, "-C", tx, "./"+name).CombinedOutput(); err != nil {
			b.Fatalf("tar -xf one file: %v %s", err, out)
		}
		tarT += time.Since(start)
	}
	b.ReportMetric(float64(ferryT.Milliseconds())/float64(b.N), "ferry-ms/op")
	b.ReportMetric(float64(tarT.Milliseconds())/float64(b.N), "tar-ms/op")
	b.ReportMetric(float64(read)/float64(b.N), "read-B/op")
	b.ReportMetric(float64(bk.Bytes), "image-B")
}
