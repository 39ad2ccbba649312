package format_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path"
	"testing"

	"ferry/internal/format"
	"ferry/internal/fsmeta"
)

// backupTree writes the tree at dir as a stream, the way a backup engine would:
// depth first, "." first, hard links after the first name, sparse files by their map.
// It returns the offsets of each entry's header by name.
func backupTree(t testing.TB, dir string, out io.Writer) map[string]int64 {
	t.Helper()
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	fs := fsmeta.New(root)
	d, err := fs.OpenDir(".")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	b := &backer{t: t, w: format.NewWriter(out), seen: map[[2]uint64]string{}, offsets: map[string]int64{}}
	b.entry(d, ".")
	b.dir(d)
	if err := b.w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.offsets
}

type backer struct {
	t       testing.TB
	w       *format.Writer
	seen    map[[2]uint64]string
	offsets map[string]int64
}

func (b *backer) dir(d *fsmeta.Dir) {
	names, err := d.File().Readdirnames(-1)
	if err != nil {
		b.t.Fatal(err)
	}
	for _, name := range names {
		if e := b.entry(d, name); e.Type == format.Dir {
			sub, err := d.OpenDir(name)
			if err != nil {
				b.t.Fatal(err)
			}
			b.dir(sub)
			sub.Close()
		}
	}
}

// entry writes one file's header and data.
func (b *backer) entry(d *fsmeta.Dir, name string) *format.Entry {
	e, err := d.Lstat(name)
	if err != nil {
		b.t.Fatalf("lstat %q: %v", name, err)
	}
	if e.Type == format.Regular && e.Nlink > 1 {
		k := [2]uint64{e.Dev, e.Inode}
		if first, ok := b.seen[k]; ok {
			e.Type, e.Linkname, e.Size, e.Sparse = format.HardLink, first, 0, nil
		} else {
			b.seen[k] = e.Name
		}
	}
	b.offsets[e.Name] = b.w.Offset()
	if err := b.w.WriteHeader(e); err != nil {
		b.t.Fatalf("header %q: %v", e.Name, err)
	}
	if e.Type == format.Regular {
		f, err := d.Open(name)
		if err != nil {
			b.t.Fatal(err)
		}
		if _, err := b.w.CopyFrom(f); err != nil {
			b.t.Fatalf("data %q: %v", e.Name, err)
		}
		f.Close()
	}
	return e
}

// restoreTree extracts a stream into dir (which must exist) with fsmeta, keeping the
// current parent directory open (entries come grouped by directory); directory
// metadata is applied last, deepest first.
func restoreTree(t testing.TB, stream io.Reader, dir string) {
	t.Helper()
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	x := &extractor{t: t, root: root, fs: fsmeta.New(root)}
	x.fs.NoOwner = os.Getuid() != 0
	defer x.closeDir()
	r := format.NewReader(stream)
	var dirs []*format.Entry
	for {
		e, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		name, err := format.CleanName(e.Name)
		if err != nil {
			t.Fatal(err)
		}
		e.Name = name
		if e.Type == format.Dir {
			if err := root.MkdirAll(name, 0700); err != nil && !errors.Is(err, os.ErrExist) {
				t.Fatal(err)
			}
			dirs = append(dirs, e)
			continue
		}
		x.restoreOne(r, e)
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := x.fs.Apply(dirs[i].Name, dirs[i]); err != nil {
			t.Errorf("apply %q: %v", dirs[i].Name, err)
		}
	}
}

type extractor struct {
	t    testing.TB
	root *os.Root
	fs   *fsmeta.FS
	cur  *fsmeta.Dir
}

// parent returns the open directory holding name, opening (and making) it on change.
func (x *extractor) parent(name string) (*fsmeta.Dir, string) {
	dir, base := path.Dir(name), path.Base(name)
	if x.cur != nil && x.cur.Name() == dir {
		return x.cur, base
	}
	x.closeDir()
	if dir != "." {
		if err := x.root.MkdirAll(dir, 0700); err != nil {
			x.t.Fatal(err)
		}
	}
	d, err := x.fs.OpenDir(dir)
	if err != nil {
		x.t.Fatal(err)
	}
	x.cur = d
	return d, base
}

func (x *extractor) closeDir() {
	if x.cur != nil {
		x.cur.Close()
		x.cur = nil
	}
}

func (x *extractor) restoreOne(r *format.Reader, e *format.Entry) {
	t := x.t
	d, base := x.parent(e.Name)
	var err error
	switch e.Type {
	case format.Regular:
		var f *os.File
		if f, err = d.Create(base, 0600); err == nil {
			_, err = io.Copy(f, r)
			f.Close()
		}
	case format.HardLink:
		target, cerr := format.CleanName(e.Linkname)
		if cerr != nil {
			t.Fatal(cerr)
		}
		if err := x.root.Link(target, e.Name); err != nil {
			t.Fatal(err)
		}
		return
	case format.Symlink:
		err = x.root.Symlink(e.Linkname, e.Name)
	default:
		err = d.Mknod(base, e)
	}
	if err != nil {
		t.Fatalf("create %q: %v", e.Name, err)
	}
	if err := d.Apply(base, e); err != nil {
		t.Errorf("apply %q: %v", e.Name, err)
	}
}

// readAll reads a stream into entries and their logical data.
func readAll(t testing.TB, stream []byte) ([]*format.Entry, [][]byte) {
	t.Helper()
	r := format.NewReader(bytes.NewReader(stream))
	var es []*format.Entry
	var data [][]byte
	for {
		e, err := r.Next()
		if err == io.EOF {
			return es, data
		}
		if err != nil {
			t.Fatal(err)
		}
		d, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		es, data = append(es, e), append(data, d)
	}
}
