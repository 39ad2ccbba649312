// Package storetest is the cartridge store contract (docs/cartridge-store.md)
// as one test suite: Run checks every rule on a store. File and memory
// stores run it in their tests; an S3 store runs it against a bucket.
package storetest

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"ferry/internal/tape/store"
)

// Factory returns two handles on one fresh, empty place, as two processes
// sharing it would have them: what one writes and syncs, the other reads,
// and the writer lease holds across them.
type Factory func(t *testing.T) (a, b store.Store)

// Run checks the contract on the stores f makes.
func Run(t *testing.T, f Factory) {
	tests := []struct {
		name string
		run  func(t *testing.T, a, b store.Store)
	}{
		{"CreateOpenList", testCreateOpenList},
		{"WriteReadSparse", testWriteReadSparse},
		{"Truncate", testTruncate},
		{"SyncIsVisible", testSyncIsVisible},
		{"CloseIsVisible", testCloseIsVisible},
		{"Lease", testLease},
		{"ReadOnly", testReadOnly},
		{"Closed", testClosed},
		{"Remove", testRemove},
		{"ReaderBesideWriter", testReaderBesideWriter},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, b := f(t)
			tc.run(t, a, b)
		})
	}
}

// head is a recognisable head of HeadLen bytes.
func head(seed byte) []byte {
	h := make([]byte, store.HeadLen)
	for i := range h {
		h[i] = byte(i*7) + seed
	}
	return h
}

// fill returns n bytes that depend on seed.
func fill(n int, seed int) []byte {
	b := make([]byte, n)
	x := uint32(seed)*2654435761 + 1
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}

func create(t *testing.T, s store.Store, barcode string, h []byte) {
	t.Helper()
	if err := s.Create(barcode, h); err != nil {
		t.Fatalf("Create(%s): %v", barcode, err)
	}
}

func open(t *testing.T, s store.Store, barcode string, writable bool) store.Cartridge {
	t.Helper()
	c, err := s.Open(barcode, writable)
	if err != nil {
		t.Fatalf("Open(%s, %v): %v", barcode, writable, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func write(t *testing.T, c store.Cartridge, p []byte, off int64) {
	t.Helper()
	if n, err := c.WriteAt(p, off); n != len(p) || err != nil {
		t.Fatalf("WriteAt(%d bytes at %d) = %d, %v", len(p), off, n, err)
	}
}

// want fails unless c holds p at off.
func want(t *testing.T, c store.Cartridge, p []byte, off int64) {
	t.Helper()
	got := make([]byte, len(p))
	if n, err := c.ReadAt(got, off); n != len(p) || err != nil && err != io.EOF {
		t.Fatalf("%s: ReadAt(%d bytes at %d) = %d, %v", c.Name(), len(p), off, n, err)
	}
	if i := firstDiff(got, p); i >= 0 {
		t.Fatalf("%s: byte %d differs (%#x, want %#x)", c.Name(), off+int64(i), got[i], p[i])
	}
}

func firstDiff(a, b []byte) int {
	for i := range a {
		if a[i] != b[i] {
			return i
		}
	}
	return -1
}

func wantSize(t *testing.T, c store.Cartridge, size int64) {
	t.Helper()
	if got, err := c.Size(); got != size || err != nil {
		t.Fatalf("%s: Size = %d, %v; want %d", c.Name(), got, err, size)
	}
}

func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: %v, want %v", what, err, target)
	}
}

// testCreateOpenList: a created cartridge holds its head and nothing
// else, exists once, lists sorted, and a missing one is fs.ErrNotExist.
func testCreateOpenList(t *testing.T, a, b store.Store) {
	create(t, a, "FRY002L8", head(2))
	create(t, a, "FRY001L8", head(1))
	wantErr(t, "second Create", a.Create("FRY001L8", head(3)), fs.ErrExist)
	wantErr(t, "Create on the other handle", b.Create("FRY001L8", head(3)), fs.ErrExist)
	for _, bad := range []string{"", ".hidden", "a/b", "sp ace", strings.Repeat("X", 33)} {
		wantErr(t, "Create("+bad+")", a.Create(bad, head(0)), store.ErrBadBarcode)
	}
	got, err := b.List()
	if err != nil || !slices.Equal(got, []string{"FRY001L8", "FRY002L8"}) {
		t.Fatalf("List = %q, %v", got, err)
	}
	for _, writable := range []bool{false, true} {
		c := open(t, b, "FRY001L8", writable)
		wantSize(t, c, store.HeadLen)
		want(t, c, head(1), 0)
		if n, err := c.ReadAt(make([]byte, 10), store.HeadLen); n != 0 || err != io.EOF {
			t.Fatalf("read past the head of a new cartridge: %d, %v", n, err)
		}
		if !strings.Contains(c.Name(), "FRY001L8") {
			t.Fatalf("Name %q does not name the cartridge", c.Name())
		}
		c.Close()
		_, err := b.Open("NOSUCH", writable)
		wantErr(t, "Open of a missing cartridge", err, fs.ErrNotExist)
	}
}

// testWriteReadSparse: writes land where they were made, also across the
// chunk sizes a store may use; holes read as zeros; reads stop at Size
// with io.EOF.
func testWriteReadSparse(t *testing.T, a, _ store.Store) {
	create(t, a, "T1", head(1))
	c := open(t, a, "T1", true)
	// Across 64 KiB, 1 MiB and 8 MiB boundaries, and far out (sparse).
	writes := []struct {
		off int64
		n   int
	}{{store.HeadLen, 100}, {64<<10 - 10, 30}, {1<<20 - 3, 70000}, {8<<20 - 1000, 3 << 20}, {300 << 20, 5}}
	for i, w := range writes {
		write(t, c, fill(w.n, i), w.off)
	}
	end := int64(300<<20 + 5)
	wantSize(t, c, end)
	for i, w := range writes {
		want(t, c, fill(w.n, i), w.off)
	}
	want(t, c, make([]byte, 4096), 200<<20)        // a hole
	want(t, c, make([]byte, 64<<10-10-4196), 4196) // between writes
	p := make([]byte, 20)
	if n, err := c.ReadAt(p, end-5); n != 5 || err != io.EOF {
		t.Fatalf("read across the end: %d, %v", n, err)
	}
	if n, err := c.ReadAt(p, end+100); n != 0 || err != io.EOF {
		t.Fatalf("read past the end: %d, %v", n, err)
	}
	// Overwriting in place changes only what it covers.
	write(t, c, []byte("XY"), store.HeadLen+10)
	want(t, c, append(append(fill(100, 0)[:10:10], 'X', 'Y'), fill(100, 0)[12:]...), store.HeadLen)
	write(t, c, head(9)[:512], 0)
	want(t, c, append(head(9)[:512:512], head(1)[512:]...), 0)
	wantSize(t, c, end)
}

// testTruncate: bytes past a truncate are gone, and growing the cartridge
// again shows zeros there, also to another open after a sync.
func testTruncate(t *testing.T, a, b store.Store) {
	create(t, a, "T1", head(1))
	c := open(t, a, "T1", true)
	old := fill(10<<20, 1)
	write(t, c, old, store.HeadLen)
	cut := int64(store.HeadLen + 1<<20 + 7)
	if err := c.Truncate(cut); err != nil {
		t.Fatal(err)
	}
	wantSize(t, c, cut)
	if n, err := c.ReadAt(make([]byte, 10), cut); n != 0 || err != io.EOF {
		t.Fatalf("read at a truncated end: %d, %v", n, err)
	}
	write(t, c, []byte("new"), 9<<20)
	wantSize(t, c, 9<<20+3)
	want(t, c, old[:cut-store.HeadLen], store.HeadLen)
	want(t, c, make([]byte, 9<<20-cut), cut)
	// Growing by Truncate shows zeros too.
	if err := c.Truncate(12 << 20); err != nil {
		t.Fatal(err)
	}
	wantSize(t, c, 12<<20)
	want(t, c, make([]byte, 12<<20-(9<<20+3)), 9<<20+3)
	if err := c.Truncate(cut); err != nil {
		t.Fatal(err)
	}
	if err := c.Sync(); err != nil {
		t.Fatal(err)
	}
	r := open(t, b, "T1", false)
	wantSize(t, r, cut)
	want(t, r, old[:cut-store.HeadLen], store.HeadLen)
	// A cut inside the head and a regrowth: the head's tail reads zeros.
	if err := c.Truncate(100); err != nil {
		t.Fatal(err)
	}
	write(t, c, []byte{1}, store.HeadLen+5)
	want(t, c, append(head(1)[:100:100], make([]byte, store.HeadLen+5-100)...), 0)
}

// testSyncIsVisible: after Sync another open, on another handle, reads
// what was written and its size.
func testSyncIsVisible(t *testing.T, a, b store.Store) {
	create(t, a, "T1", head(1))
	c := open(t, a, "T1", true)
	write(t, c, fill(3<<20, 1), 1<<20)
	write(t, c, head(2)[:64], 512)
	if err := c.Sync(); err != nil {
		t.Fatal(err)
	}
	r := open(t, b, "T1", false)
	wantSize(t, r, 4<<20)
	want(t, r, fill(3<<20, 1), 1<<20)
	want(t, r, head(2)[:64], 512)
	// A read-only open sees later syncs without reopening.
	write(t, c, fill(100, 2), 4<<20)
	if err := c.Sync(); err != nil {
		t.Fatal(err)
	}
	wantSize(t, r, 4<<20+100)
	want(t, r, fill(100, 2), 4<<20)
}

// testCloseIsVisible: a writer that closes without syncing leaves what it
// wrote for the next open.
func testCloseIsVisible(t *testing.T, a, b store.Store) {
	create(t, a, "T1", head(1))
	c := open(t, a, "T1", true)
	write(t, c, fill(1<<20, 1), store.HeadLen)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	r := open(t, b, "T1", true)
	wantSize(t, r, store.HeadLen+1<<20)
	want(t, r, fill(1<<20, 1), store.HeadLen)
}

// testLease: one writer at a time across handles; readers beside it;
// the lease goes with Close.
func testLease(t *testing.T, a, b store.Store) {
	create(t, a, "T1", head(1))
	create(t, a, "T2", head(2))
	w := open(t, a, "T1", true)
	for _, s := range []store.Store{a, b} {
		_, err := s.Open("T1", true)
		wantErr(t, "second writable open", err, store.ErrInUse)
		wantErr(t, "Remove beside a writer", s.Remove("T1"), store.ErrInUse)
		r := open(t, s, "T1", false)
		r.Close()
	}
	open(t, b, "T2", true) // leases are per cartridge
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	open(t, b, "T1", true)
}

// testReadOnly: a read-only open cannot change the cartridge.
func testReadOnly(t *testing.T, a, _ store.Store) {
	create(t, a, "T1", head(1))
	r := open(t, a, "T1", false)
	_, err := r.WriteAt([]byte{1}, 0)
	wantErr(t, "WriteAt read-only", err, store.ErrReadOnly)
	wantErr(t, "Truncate read-only", r.Truncate(0), store.ErrReadOnly)
	want(t, r, head(1), 0)
	if err := r.Sync(); err != nil {
		t.Fatalf("Sync read-only: %v", err)
	}
}

// testClosed: every call on a closed cartridge fails with ErrClosed.
func testClosed(t *testing.T, a, _ store.Store) {
	create(t, a, "T1", head(1))
	for _, writable := range []bool{false, true} {
		c, err := a.Open("T1", writable)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		_, err = c.ReadAt(make([]byte, 1), 0)
		wantErr(t, "ReadAt", err, store.ErrClosed)
		_, err = c.WriteAt([]byte{1}, 0)
		wantErr(t, "WriteAt", err, store.ErrClosed)
		_, err = c.Size()
		wantErr(t, "Size", err, store.ErrClosed)
		wantErr(t, "Truncate", c.Truncate(0), store.ErrClosed)
		wantErr(t, "Sync", c.Sync(), store.ErrClosed)
		wantErr(t, "Close", c.Close(), store.ErrClosed)
	}
}

// testRemove: a removed cartridge is gone from every handle, and one
// created again by the same barcode holds nothing of the old one.
func testRemove(t *testing.T, a, b store.Store) {
	create(t, a, "T1", head(1))
	c := open(t, a, "T1", true)
	write(t, c, fill(2<<20, 1), store.HeadLen)
	if err := c.Sync(); err != nil {
		t.Fatal(err)
	}
	c.Close()
	if err := b.Remove("T1"); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "second Remove", a.Remove("T1"), fs.ErrNotExist)
	_, err := a.Open("T1", false)
	wantErr(t, "Open after Remove", err, fs.ErrNotExist)
	if got, err := a.List(); len(got) != 0 || err != nil {
		t.Fatalf("List after Remove = %q, %v", got, err)
	}
	create(t, a, "T1", head(3))
	c = open(t, b, "T1", true)
	wantSize(t, c, store.HeadLen)
	write(t, c, []byte{1}, 3<<20)
	want(t, c, make([]byte, 3<<20-store.HeadLen), store.HeadLen)
}

// testReaderBesideWriter: a reader on the other handle, in its own
// goroutine, reads every block the writer synced, intact, while the
// writer goes on.
func testReaderBesideWriter(t *testing.T, a, b store.Store) {
	const block, blocks = 32 << 10, 64
	create(t, a, "T1", head(1))
	w := open(t, a, "T1", true)
	r := open(t, b, "T1", false)
	var synced atomic.Int64
	var wg sync.WaitGroup
	var werr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range blocks {
			if _, err := w.WriteAt(fill(block, i), store.HeadLen+int64(i)*block); err != nil {
				werr = err
				return
			}
			if err := w.Sync(); err != nil {
				werr = err
				return
			}
			synced.Store(int64(i + 1))
		}
	}()
	buf := make([]byte, block)
	for seen := int64(0); seen < blocks; {
		n := synced.Load()
		for i := seen; i < n; i++ {
			if _, err := r.ReadAt(buf, store.HeadLen+i*block); err != nil && err != io.EOF {
				t.Fatalf("reader, block %d: %v", i, err)
			}
			if !bytes.Equal(buf, fill(block, int(i))) {
				t.Fatalf("reader, block %d: differs", i)
			}
		}
		if size, err := r.Size(); err != nil || size < store.HeadLen+n*block {
			t.Fatalf("reader: size %d, %v after %d synced blocks", size, err, n)
		}
		seen = n
	}
	wg.Wait()
	if werr != nil {
		t.Fatal(werr)
	}
}
