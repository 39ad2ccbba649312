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

	"ferry/internal/catalog"
	"ferry/internal/dma"
	"ferry/internal/testsupport/fstree"
)

// BenchmarkMixed backs up issue 3's mixed tree (500 MB at
// FERRY_BENCH_DIV=1, the default 10 gives 50 MB) end to end (DMA, ferry's
// agent over loopback, tape, file history into SQLite) and restores it to
// a local directory, each beside GNU tar -cf / -xf on the same tree in the
// same run, the order of each pair alternating between iterations (run
// an even -benchtime, e.g. 2x); the ratios are ferry's speed over tar's.
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
	// timed runs fn between syncs and adds its time to *d.
	timed := func(d *time.Duration, fn func()) {
		sync()
		start := time.Now()
		fn()
		sync()
		*d += time.Since(start)
	}
	var tarC, ferryC, tarX, ferryX time.Duration
	var files int64
	for i := 0; b.Loop(); i++ {
		work := b.TempDir()
		tarFile := filepath.Join(work, "t.tar")
		tarCreate := func() {
			if out, err := exec.Command(tarPath, "-cf", tarFile, "-C", src, ".").CombinedOutput(); err != nil {
				b.Fatalf("tar -cf: %v %s", err, out)
			}
		}
		var bk catalog.Backup
		ferryBackup := func() {
			var err error
			if bk, err = dma.Backup(ctx, f.cat, dma.BackupSpec{Agent: f.agent, Path: src}); err != nil {
				b.Fatal(err)
			}
			files += bk.Files
		}
		tarExtract := func() {
			tx := filepath.Join(work, "tx")
			os.Mkdir(tx, 0o755)
			if out, err := exec.Command(tarPath, "-xf", tarFile, "-C", tx).CombinedOutput(); err != nil {
				b.Fatalf("tar -xf: %v %s", err, out)
			}
		}
		ferryRestore := func() {
			if _, err := dma.Restore(ctx, f.cat, dma.RestoreSpec{Agent: f.agent, BackupID: bk.ID, To: filepath.Join(work, "fx")}); err != nil {
				b.Fatal(err)
			}
		}
		// Which of the pair goes first alternates: a later step meets
		// the write-back of earlier ones.
		if i%2 == 0 {
			timed(&tarC, tarCreate)
			timed(&ferryC, ferryBackup)
			timed(&tarX, tarExtract)
			timed(&ferryX, ferryRestore)
		} else {
			timed(&ferryC, ferryBackup)
			timed(&tarC, tarCreate)
			timed(&ferryX, ferryRestore)
			timed(&tarX, tarExtract)
		}
		os.RemoveAll(work)
	}
	mb := func(d time.Duration) float64 { return float64(b.N) * size / 1e6 / d.Seconds() }
	b.ReportMetric(mb(tarC), "tar-c-MB/s")
	b.ReportMetric(mb(ferryC), "backup-MB/s")
	b.ReportMetric(mb(tarX), "tar-x-MB/s")
	b.ReportMetric(mb(ferryX), "restore-MB/s")
	b.ReportMetric(float64(tarC)/float64(ferryC), "backup-ratio")
	b.ReportMetric(float64(tarX)/float64(ferryX), "restore-ratio")
	b.ReportMetric(float64(files)/ferryC.Seconds(), "files/s")
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
