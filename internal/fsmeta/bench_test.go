package fsmeta_test

import (
	"fmt"
	"os"
	"testing"

	"ferry/internal/fsmeta"
	"ferry/internal/testsupport/fstree"
)

// BenchmarkLstat reads the metadata of 5,000 small files, by path from the root
// (FS.Lstat: opens the parent each time) and through an open Dir (Dir.Lstat).
func BenchmarkLstat(b *testing.B) {
	dir := b.TempDir()
	spec := fstree.ManySmall(5000, 10)
	fstree.Build(b, dir, spec)
	root, err := os.OpenRoot(dir)
	if err != nil {
		b.Fatal(err)
	}
	defer root.Close()
	fs := fsmeta.New(root)
	b.Run("FS.Lstat", func(b *testing.B) {
		for range b.N {
			for _, n := range spec {
				if _, err := fs.Lstat(n.Path); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(spec)), "ns/file")
	})
	b.Run("Dir.Lstat", func(b *testing.B) {
		for range b.N {
			for d := 0; d < 5; d++ {
				dd, err := fs.OpenDir(fmt.Sprintf("d%04d", d))
				if err != nil {
					b.Fatal(err)
				}
				for i := d * 1000; i < (d+1)*1000; i++ {
					if _, err := dd.Lstat(fmt.Sprintf("f%06d", i)); err != nil {
						b.Fatal(err)
					}
				}
				dd.Close()
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(spec)), "ns/file")
	})
}
