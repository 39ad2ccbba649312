package tape

import (
	"errors"
	"path/filepath"
	"testing"
)

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
