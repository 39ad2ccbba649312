package ext4_test

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"ferry/internal/ext4"
	"ferry/internal/ext4/ext4test"
)

// openImage opens an image file as a file system.
func openImage(t *testing.T, img string) *ext4.FS {
	t.Helper()
	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	fsys, err := ext4.Open(f, st.Size())
	if err != nil {
		t.Fatal(err)
	}
	return fsys
}

func walk(t *testing.T, fsys *ext4.FS) map[string]ext4.File {
	t.Helper()
	files := map[string]ext4.File{}
	if err := fsys.Walk(func(f ext4.File) error { files[f.Path] = f; return nil }); err != nil {
		t.Fatal(err)
	}
	return files
}

// TestWalkMatchesSource makes real file systems with mkfs.ext4 -d in
// several layouts and checks that every file read through the reader
// equals its source, unwritten extents reading as zeros.
func TestWalkMatchesSource(t *testing.T) {
	for _, c := range []struct {
		name      string
		opts      []string
		unwritten bool // extents: debugfs can preallocate
	}{
		{"ext4-4k", []string{"-b", "4096"}, true},
		{"ext4-1k-32bit", []string{"-b", "1024", "-O", "^64bit,^metadata_csum"}, true},
		{"ext3-blockmap", []string{"-b", "4096", "-t", "ext3"}, false},
		{"ext4-inline", []string{"-b", "4096", "-O", "inline_data"}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			src := t.TempDir()
			want := ext4test.Tree(t, src)
			img := ext4test.Make(t, src, "64M", c.opts...)
			if c.unwritten {
				ext4test.Unwrite(t, img, want)
			}
			ext4test.Index(t, img)
			if c.name == "ext4-inline" {
				// mkfs.ext4 1.47 with inline_data drops a file's trailing
				// hole: its size ends with its last data.
				for _, p := range []string{"/sparse.bin", "/mixed.bin"} {
					want[p] = want[p][:ext4test.Size(t, img, p)]
				}
			}
			fsys := openImage(t, img)
			files := walk(t, fsys)
			checkTree(t, fsys, src, files, want)
			if c.unwritten {
				checkUnwritten(t, files)
			}
		})
	}
}

func checkTree(t *testing.T, fsys *ext4.FS, src string, files map[string]ext4.File, want map[string][]byte) {
	t.Helper()
	for p, data := range want {
		f, ok := files[p]
		if !ok {
			t.Errorf("%s: not listed", p)
			continue
		}
		got := []byte(f.Target)
		if f.Mode.IsRegular() {
			got = make([]byte, f.Size)
			if _, err := fsys.Data(f).ReadAt(got, 0); err != nil && !errors.Is(err, io.EOF) {
				t.Fatalf("%s: %v", p, err)
			}
		}
		if ok, diff := ext4test.Equal(got, data); !ok {
			t.Errorf("%s: %s", p, diff)
		}
		if p == "/prealloc.bin" {
			continue
		}
		st, err := os.Lstat(filepath.Join(src, p))
		if err != nil {
			t.Fatal(err)
		}
		if f.Mode != st.Mode() {
			t.Errorf("%s: mode %v, want %v", p, f.Mode, st.Mode())
		}
		if !f.Mtime.Equal(st.ModTime().Truncate(1e9)) && !f.Mtime.Equal(st.ModTime()) {
			t.Errorf("%s: mtime %v, want %v", p, f.Mtime, st.ModTime())
		}
		if f.UID != uint32(os.Getuid()) {
			t.Errorf("%s: uid %d, want %d", p, f.UID, os.Getuid())
		}
	}
	if len(files) != len(want)+11 { // + deep/ and its 8 levels, big/, lost+found
		t.Errorf("%d names listed, want %d", len(files), len(want)+11)
	}
	if files["/hard1"].Ino != files["/deep/hard2"].Ino || files["/hard1"].Links != 2 {
		t.Errorf("hard links: inodes %d and %d, %d links", files["/hard1"].Ino, files["/deep/hard2"].Ino, files["/hard1"].Links)
	}
	if n := len(files["/multi.bin"].Extents); n < 5 {
		t.Errorf("/multi.bin has %d extents: the test wants more than an inode holds", n)
	}
}

// checkUnwritten checks that preallocated blocks are reported unwritten
// (so a restore knows they are zeros without reading them).
func checkUnwritten(t *testing.T, files map[string]ext4.File) {
	t.Helper()
	for _, p := range []string{"/mixed.bin", "/prealloc.bin"} {
		var n int64
		for _, e := range files[p].Extents {
			if e.Unwritten {
				n += e.Length
			}
		}
		if n == 0 {
			t.Errorf("%s: no unwritten extent: %+v", p, files[p].Extents)
		}
	}
}
