package tape

import (
	"errors"
	"io/fs"
	"path/filepath"
	"testing"

	"ferry/internal/tape/store"
	"ferry/internal/tape/store/s3store/s3test"
)

// backings are the stores the format's tests run on: every guarantee of
// docs/tape-format.md must hold on each.
// "buffered" shows other opens only what was synced, as S3 does.
var backings = []struct {
	name         string
	new          func(t testing.TB) store.Store
	seesUnsynced bool // other opens see writes before Sync
}{
	{"file", func(t testing.TB) store.Store { return store.NewFile(t.TempDir()) }, true},
	{"mem", func(testing.TB) store.Store { return store.NewMem() }, true},
	{"buffered", func(testing.TB) store.Store { return store.NewMemBuffered() }, false},
}

// forEachBacking runs f as a subtest on each backing.
func forEachBacking(t *testing.T, f func(t *testing.T, s store.Store)) {
	for _, b := range backings {
		t.Run(b.name, func(t *testing.T) { f(t, b.new(t)) })
	}
}

// onS3 runs f on a cartridge store in a real S3 server (versitygw;
// skipped where it is missing, unless CI=true) with 1 MiB chunks, so that
// the format's writes cross chunk objects often. Every request is a round
// trip, so the tests that use it run fewer rounds than on the other
// backings.
func onS3(t *testing.T, f func(t *testing.T, s store.Store)) {
	cfg := s3test.Start(t).Config()
	cfg.ChunkSize = 1 << 20
	f(t, s3test.Store(t, cfg))
}

// cart is a cartridge in a store.
type cart struct {
	s       store.Store
	barcode string
}

// newCart creates a blank cartridge in s with geometry g.
func newCart(t testing.TB, s store.Store, capacity int64, g geometry) cart {
	t.Helper()
	c := cart{s, "FRY001L8"}
	if err := createIn(s, Meta{Barcode: c.barcode, Capacity: capacity}, g); err != nil {
		t.Fatal(err)
	}
	return c
}

// defaultGeo is the geometry Create uses.
var defaultGeo = geometry{perSeg: defaultPerSeg, align: defaultAlign}

// open opens the cartridge.
func (c cart) open(readOnly bool) (*Medium, error) { return OpenIn(c.s, c.barcode, readOnly) }

// openRW opens the cartridge for writing and closes it when the test ends.
func (c cart) openRW(t testing.TB) *Medium {
	t.Helper()
	m, err := c.open(false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// image returns the cartridge's bytes.
func (c cart) image(t testing.TB) []byte {
	t.Helper()
	sc, err := c.s.Open(c.barcode, false)
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	size, err := sc.Size()
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, size)
	if n, err := sc.ReadAt(b, 0); n != len(b) {
		t.Fatal(err)
	}
	return b
}

// change changes the cartridge's bytes behind the format's back (damage,
// a cut) through a writable open of its store.
func (c cart) change(t testing.TB, f func(store.Cartridge) error) {
	t.Helper()
	sc, err := c.s.Open(c.barcode, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := f(sc); err != nil {
		t.Fatal(err)
	}
	if err := sc.Close(); err != nil {
		t.Fatal(err)
	}
}

// putCart stores b as the cartridge barcode in s, replacing any.
func putCart(t testing.TB, s store.Store, barcode string, b []byte) cart {
	t.Helper()
	err := s.Create(barcode, b[:min(len(b), store.HeadLen)])
	if err != nil && !errors.Is(err, fs.ErrExist) {
		t.Fatal(err)
	}
	sc, err := s.Open(barcode, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sc.WriteAt(b, 0); err != nil {
		t.Fatal(err)
	}
	if err := sc.Truncate(int64(len(b))); err != nil {
		t.Fatal(err)
	}
	if err := sc.Close(); err != nil {
		t.Fatal(err)
	}
	return cart{s, barcode}
}

// newCartridge creates a blank cartridge in a temporary directory.
func newCartridge(t testing.TB, capacity int64) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "FRY001L8.tape")
	if err := Create(path, Meta{Barcode: "FRY001L8", Capacity: capacity}); err != nil {
		t.Fatal(err)
	}
	return path
}

// tiny is a segment geometry that makes every few objects a new segment,
// so small tests cross many segment boundaries.
var tiny = geometry{perSeg: 4, align: 512}

// newTinyCartridge creates a blank cartridge with the tiny geometry.
func newTinyCartridge(t testing.TB, capacity int64) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "TINY01L8.tape")
	if err := create(path, Meta{Barcode: "TINY01L8", Capacity: capacity}, tiny); err != nil {
		t.Fatal(err)
	}
	return path
}

// openRW opens a cartridge for writing and closes it when the test ends.
func openRW(t testing.TB, path string) *Medium {
	t.Helper()
	m, err := Open(path, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// pattern returns n bytes that depend on seed, so misplaced data shows.
func pattern(n int, seed int) []byte {
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

// wantPos fails the test unless m is at the given block, file and record.
func wantPos(t testing.TB, m *Medium, block, file, rec uint64) {
	t.Helper()
	p := m.Position()
	if p.Block != block || p.File != file || p.Record != rec {
		t.Fatalf("position = block %d file %d record %d, want %d %d %d", p.Block, p.File, p.Record, block, file, rec)
	}
}

// wantErr fails unless errors.Is(err, want) (or both are nil).
func wantErr(t testing.TB, what string, err, want error) {
	t.Helper()
	if want == nil && err != nil || want != nil && !errors.Is(err, want) {
		t.Fatalf("%s: err = %v, want %v", what, err, want)
	}
}
