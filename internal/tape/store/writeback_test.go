package store

import (
	"os"
	"path/filepath"
	"testing"
)

// TestWriteback: a stream of 256 KiB payloads with 64-byte index entries
// written between them starts writeback once per 8 MiB of contiguous
// payload, over exactly the payload written; a payload elsewhere starts a
// new run.
func TestWriteback(t *testing.T) {
	type run struct{ off, n int64 }
	var runs []run
	old := startWriteback
	startWriteback = func(_ *os.File, off, n int64) { runs = append(runs, run{off, n}) }
	defer func() { startWriteback = old }()

	path := filepath.Join(t.TempDir(), "c")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	c := &fileCartridge{f: f}
	defer c.Close()
	rec, entry := make([]byte, 256<<10), make([]byte, 64)
	const base = 1 << 20
	for i := range int64(40) { // 10 MiB of payload
		if _, err := c.WriteAt(rec, base+i*int64(len(rec))); err != nil {
			t.Fatal(err)
		}
		if _, err := c.WriteAt(entry, 4096+i*64); err != nil {
			t.Fatal(err)
		}
	}
	if len(runs) != 1 || runs[0] != (run{base, writebackRun}) {
		t.Fatalf("writeback runs %v, want one of 8 MiB at %d", runs, base)
	}
	// A payload elsewhere (a new segment's data area) starts a new run.
	far := int64(64 << 20)
	for i := range int64(32) {
		c.WriteAt(rec, far+i*int64(len(rec)))
	}
	if len(runs) != 2 || runs[1] != (run{far, writebackRun}) {
		t.Fatalf("writeback runs %v, want a second of 8 MiB at %d", runs, far)
	}
}
