package fh

import (
	"errors"
	"slices"
	"testing"

	"ferry/internal/catalog"
	"ferry/internal/ndmp/wire"
)

type collect []catalog.File

func (c *collect) Add(f catalog.File) error { *c = append(*c, f); return nil }

func (c collect) paths() []string {
	var out []string
	for _, f := range c {
		out = append(out, f.Path)
	}
	return out
}

func unix(s string) []wire.FileName { return []wire.FileName{{FsType: wire.FsUnix, Path: s}} }

func stat(t wire.FileType, size uint64) []wire.FileStat {
	return []wire.FileStat{{FsType: wire.FsUnix, Ftype: t, Fattr: 0o644, Owner: 7, Group: 8, Size: size, Mtime: 1_700_000_000}}
}

func TestAddFile(t *testing.T) {
	var c collect
	r := New(&c)
	err := r.Post(&wire.FhAddFile{Files: []wire.FhFile{
		{Names: unix("/a.txt"), Stats: stat(wire.FileReg, 6), Node: 3, FhInfo: 512},
		{Names: []wire.FileName{{FsType: wire.FsNT, Path: `x\y`, DOSPath: "Y"}}, Stats: stat(wire.FileDir, 0)},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if len(c) != 2 || c[0].Path != "/a.txt" || c[0].Size != 6 || c[0].FhInfo != 512 || c[0].UID != 7 ||
		c[0].Mtime.Unix() != 1_700_000_000 || c[1].Path != `x\y` || c[1].Type != catalog.TypeDir {
		t.Fatalf("entries = %+v", c)
	}
}

func TestNodeHistory(t *testing.T) {
	var c collect
	r := New(&c)
	posts := []wire.Body{
		&wire.FhAddDir{Dirs: []wire.FhDir{
			{Names: unix("."), Node: 2, Parent: 2},
			{Names: unix(".."), Node: 2, Parent: 2},
			{Names: unix("docs"), Node: 3, Parent: 2},
			{Names: unix("a.txt"), Node: 4, Parent: 2},
		}},
		&wire.FhAddNode{Nodes: []wire.FhNode{
			{Node: 2, Stats: stat(wire.FileDir, 0)},
			{Node: 4, Stats: stat(wire.FileReg, 10), FhInfo: 1024},
			{Node: 6, Stats: stat(wire.FileReg, 1)}, // its directory entry comes later
		}},
		&wire.FhAddDir{Dirs: []wire.FhDir{
			{Names: unix("."), Node: 3, Parent: 3},
			{Names: unix(".."), Node: 2, Parent: 3},
			{Names: unix("b.txt"), Node: 5, Parent: 3},
			{Names: unix("hard"), Node: 5, Parent: 2}, // a second name of node 5
			{Names: unix("late"), Node: 6, Parent: 3},
		}},
		&wire.FhAddNode{Nodes: []wire.FhNode{
			{Node: 3, Stats: stat(wire.FileDir, 0)},
			{Node: 5, Stats: stat(wire.FileReg, 20), FhInfo: 2048},
		}},
	}
	for _, p := range posts {
		if err := r.Post(p); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	want := []string{"/", "/a.txt", "/docs", "/docs/b.txt", "/hard", "/docs/late"}
	if got := c.paths(); !slices.Equal(got, want) {
		t.Fatalf("paths = %q, want %q", got, want)
	}
	if c[3].FhInfo != 2048 || c[4].FhInfo != 2048 || c[4].Node != 5 {
		t.Fatalf("hard link entries = %+v %+v", c[3], c[4])
	}
}

func TestOrphans(t *testing.T) {
	var c collect
	r := New(&c)
	r.Post(&wire.FhAddDir{Dirs: []wire.FhDir{{Names: unix("."), Node: 2, Parent: 2}, {Names: unix("x"), Node: 9, Parent: 77}}})
	r.Post(&wire.FhAddNode{Nodes: []wire.FhNode{{Node: 9, Stats: stat(wire.FileReg, 1)}, {Node: 10}}})
	if err := r.Close(); !errors.Is(err, ErrOrphans) {
		t.Fatalf("Close = %v, want ErrOrphans", err)
	}
	if len(c) != 0 {
		t.Fatalf("orphans emitted: %q", c.paths())
	}
}

// A directory loop in hostile history ends instead of recursing forever.
func TestLoop(t *testing.T) {
	var c collect
	r := New(&c)
	r.Post(&wire.FhAddDir{Dirs: []wire.FhDir{{Names: unix("."), Node: 2, Parent: 2}, {Names: unix("a"), Node: 3, Parent: 4}, {Names: unix("b"), Node: 4, Parent: 3}}})
	r.Post(&wire.FhAddNode{Nodes: []wire.FhNode{{Node: 3, Stats: stat(wire.FileDir, 0)}}})
	if err := r.Close(); !errors.Is(err, ErrOrphans) {
		t.Fatalf("Close = %v, want ErrOrphans", err)
	}
}
