package store_test

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"ferry/internal/tape/store"
)

var errBoom = errors.New("boom")

// image returns the whole byte space of a cartridge, through a fresh open.
func image(t *testing.T, s store.Store, barcode string) []byte {
	t.Helper()
	c, err := s.Open(barcode, false)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	size, _ := c.Size()
	b := make([]byte, size)
	if _, err := c.ReadAt(b, 0); err != nil && err != io.EOF {
		t.Fatal(err)
	}
	return b
}

// unsynced writes to a synced cartridge: an overwrite, a cut, an append.
func unsynced(t *testing.T, c store.Cartridge) {
	t.Helper()
	for _, err := range []error{
		wr(c, bytes.Repeat([]byte{'b'}, 100), 50),
		c.Truncate(120),
		wr(c, bytes.Repeat([]byte{'c'}, 300), 200),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
}

func wr(c store.Cartridge, p []byte, off int64) error {
	_, err := c.WriteAt(p, off)
	return err
}

// TestPowerLossDropsUnsynced: after a power loss a cartridge holds what
// it held at its last Sync, or that plus the unsynced changes kept; its
// opens are dead and its lease is free.
func TestPowerLossDropsUnsynced(t *testing.T) {
	for _, tc := range []struct {
		name string
		keep func(int) bool
	}{{"none", nil}, {"all", func(int) bool { return true }}, {"first", func(i int) bool { return i == 0 }}, {"last", func(i int) bool { return i == 2 }}} {
		t.Run(tc.name, func(t *testing.T) {
			f := store.NewFaulty(store.NewMem())
			f.Create("T1", []byte("head"))
			c, _ := f.Open("T1", true)
			c.WriteAt(bytes.Repeat([]byte{'a'}, 150), 4)
			if err := c.Sync(); err != nil {
				t.Fatal(err)
			}
			synced := image(t, f, "T1")
			unsynced(t, c)
			r, _ := f.Open("T1", false)
			// What the writer's changes would give, replayed on a copy
			// of the synced image: the expected result of the subset.
			want := append([]byte(nil), synced...)
			changes := []func([]byte) []byte{
				func(b []byte) []byte { return put(b, bytes.Repeat([]byte{'b'}, 100), 50) },
				func(b []byte) []byte { return b[:120] },
				func(b []byte) []byte { return put(b, bytes.Repeat([]byte{'c'}, 300), 200) },
			}
			for i, ch := range changes {
				if tc.keep != nil && tc.keep(i) {
					want = ch(want)
				}
			}
			if err := f.PowerLoss(tc.keep); err != nil {
				t.Fatal(err)
			}
			if got := image(t, f, "T1"); !bytes.Equal(got, want) {
				t.Fatalf("after power loss: %q\nwant %q", got, want)
			}
			if _, err := c.WriteAt([]byte{1}, 0); !errors.Is(err, store.ErrPowerLost) {
				t.Fatalf("write after power loss: %v", err)
			}
			if _, err := r.ReadAt(make([]byte, 1), 0); !errors.Is(err, store.ErrPowerLost) {
				t.Fatalf("read after power loss: %v", err)
			}
			w, err := f.Open("T1", true)
			if err != nil {
				t.Fatalf("writable open after power loss: %v", err)
			}
			w.Close()
		})
	}
}

// put writes p at off into b, growing it with zeros as needed.
func put(b, p []byte, off int64) []byte {
	if end := int(off) + len(p); end > len(b) {
		b = append(b, make([]byte, end-len(b))...)
	}
	copy(b[off:], p)
	return b
}

// TestInjectedFaults: an injected error fails the call and changes
// nothing; a short write lands its first bytes; a failed Sync leaves the
// changes unsynced, so a power loss still drops them.
func TestInjectedFaults(t *testing.T) {
	f := store.NewFaulty(store.NewMem())
	f.Create("T1", []byte("head"))
	c, _ := f.Open("T1", true)
	defer c.Close()
	f.Inject(func(op store.Op, barcode string, off int64, n int) store.Fault {
		switch {
		case op == store.OpWrite && off == 100:
			return store.Fault{Err: errBoom}
		case op == store.OpWrite && off == 200:
			return store.Fault{Err: errBoom, Short: 3}
		case op == store.OpSync:
			return store.Fault{Err: errBoom}
		}
		return store.Fault{}
	})
	if n, err := c.WriteAt([]byte("xyz"), 100); n != 0 || !errors.Is(err, errBoom) {
		t.Fatalf("failed write: %d, %v", n, err)
	}
	if size, _ := c.Size(); size != 4 {
		t.Fatalf("a failed write changed the size to %d", size)
	}
	if n, err := c.WriteAt([]byte("abcdef"), 200); n != 3 || !errors.Is(err, errBoom) {
		t.Fatalf("short write: %d, %v", n, err)
	}
	if got := image(t, f, "T1"); len(got) != 203 || string(got[200:]) != "abc" {
		t.Fatalf("after a short write: %d bytes, tail %q", len(got), got[200:])
	}
	if err := c.Sync(); !errors.Is(err, errBoom) {
		t.Fatalf("sync: %v", err)
	}
	f.Inject(nil)
	if err := f.PowerLoss(nil); err != nil {
		t.Fatal(err)
	}
	if got := image(t, f, "T1"); string(got) != "head" {
		t.Fatalf("after power loss with a failed sync: %q", got)
	}
}
