package format_test

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"ferry/internal/format"
	"ferry/internal/testsupport/fstree"
)

// benchDiv scales issue 3's 500 MB mixed tree: FERRY_BENCH_DIV=10 gives 50 MB.
func benchDiv() int {
	if n, err := strconv.Atoi(os.Getenv("FERRY_BENCH_DIV")); err == nil && n > 0 {
		return n
	}
	return 1
}

// BenchmarkMixedTree compares ferry's stream writer and reader (with fsmeta reading
// and restoring metadata, single-threaded) with GNU tar -cf FILE and tar -xf FILE on
// the same tree in the same run, and logs the ratios.
func BenchmarkMixedTree(b *testing.B) { benchTree(b, fstree.Mixed(benchDiv())) }

// BenchmarkManySmall is BenchmarkMixedTree on small files: FERRY_BENCH_SMALL of them
// (default 20,000) of 4 KiB, where per-file costs dominate.
func BenchmarkManySmall(b *testing.B) {
	n, err := strconv.Atoi(os.Getenv("FERRY_BENCH_SMALL"))
	if err != nil || n <= 0 {
		n = 20000
	}
	benchTree(b, fstree.ManySmall(n, 4096))
}

func benchTree(b *testing.B, spec fstree.Spec) {
	base := b.TempDir()
	src := filepath.Join(base, "src")
	os.Mkdir(src, 0755)
	fstree.Build(b, src, spec)
	ours, gnu := filepath.Join(base, "ferry.tar"), filepath.Join(base, "gnu.tar")
	per := map[string]time.Duration{}
	run := func(name string, fn func(b *testing.B, i int)) {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(spec.Bytes())
			for i := 0; i < b.N; i++ {
				fn(b, i)
			}
			per[name] = b.Elapsed() / time.Duration(b.N)
		})
	}
	run("ferry-create", func(b *testing.B, _ int) { createOurs(b, src, ours) })
	run("gnutar-create", func(b *testing.B, _ int) { gnuTar(b, "-cf", gnu, "-C", src, ".") })
	run("ferry-extract", func(b *testing.B, _ int) {
		dst := freshDir(b, base)
		f, err := os.Open(ours)
		if err != nil {
			b.Fatal(err)
		}
		restoreTree(b, f, dst)
		f.Close()
		removeDir(b, dst)
	})
	run("gnutar-extract", func(b *testing.B, _ int) {
		dst := freshDir(b, base)
		gnuTar(b, "-xf", gnu, "-C", dst)
		removeDir(b, dst)
	})
	if per["gnutar-create"] > 0 && per["ferry-create"] > 0 && per["gnutar-extract"] > 0 && per["ferry-extract"] > 0 {
		b.Logf("%d files, %d MB: create ferry %v / GNU tar %v = %.2fx tar's speed; extract ferry %v / GNU tar %v = %.2fx",
			len(spec), spec.Bytes()>>20, per["ferry-create"], per["gnutar-create"],
			float64(per["gnutar-create"])/float64(per["ferry-create"]),
			per["ferry-extract"], per["gnutar-extract"], float64(per["gnutar-extract"])/float64(per["ferry-extract"]))
	}
}

func createOurs(b *testing.B, src, out string) {
	f, err := os.Create(out)
	if err != nil {
		b.Fatal(err)
	}
	backupTree(b, src, f)
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
}

func gnuTar(b *testing.B, args ...string) {
	if out, err := exec.Command("tar", args...).CombinedOutput(); err != nil {
		b.Fatalf("tar %v: %v\n%s", args, err, out)
	}
}

// freshDir makes an empty directory for one extraction, outside the timer.
func freshDir(b *testing.B, base string) string {
	b.StopTimer()
	defer b.StartTimer()
	dst, err := os.MkdirTemp(base, "x-")
	if err != nil {
		b.Fatal(err)
	}
	return dst
}

// removeDir removes an extracted tree outside the timer.
func removeDir(b *testing.B, dir string) {
	b.StopTimer()
	defer b.StartTimer()
	if err := os.RemoveAll(dir); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkWriter measures the format alone: the mixed tree's headers and data from
// memory into a discarding writer.
func BenchmarkWriter(b *testing.B) {
	spec := fstree.Mixed(benchDiv())
	data := make([]byte, 100<<20)
	b.SetBytes(spec.Bytes())
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		writeSpec(b, spec, data, io.Discard)
	}
}

// BenchmarkReader measures the format alone: reading the mixed tree's stream from
// memory, data included.
func BenchmarkReader(b *testing.B) {
	spec := fstree.Mixed(benchDiv())
	var buf bytes.Buffer
	writeSpec(b, spec, make([]byte, 100<<20), &buf)
	b.SetBytes(spec.Bytes())
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := format.NewReader(bytes.NewReader(buf.Bytes()))
		for {
			if _, err := r.Next(); err == io.EOF {
				break
			} else if err != nil {
				b.Fatal(err)
			}
			if _, err := io.Copy(io.Discard, r); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func writeSpec(b *testing.B, spec fstree.Spec, data []byte, out io.Writer) {
	w := format.NewWriter(out)
	e := format.Entry{Type: format.Regular, Mode: 0644, UID: 1000, GID: 1000, Uname: "bob", Gname: "users",
		ModTime: ts, AccessTime: ts, ChangeTime: ts}
	for _, n := range spec {
		e.Name, e.Size = n.Path, n.Size
		if err := w.WriteHeader(&e); err != nil {
			b.Fatal(err)
		}
		if _, err := w.Write(data[:n.Size]); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
}
