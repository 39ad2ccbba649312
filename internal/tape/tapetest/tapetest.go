// Package tapetest holds what tests of the packages above internal/tape
// share: blank cartridges in a test's temp dir, and a mutex-guarded medium
// like the one the NDMP server hands its mover (TAPE_GET_STATE polls while
// the mover's goroutine writes).
package tapetest

import (
	"os"
	"path/filepath"
	"sync"
	"testing"

	"ferry/internal/tape"
)

// Create makes a blank cartridge of capacity bytes in a fresh temp dir of
// t and returns its path.
func Create(t testing.TB, capacity int64) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tape")
	if err := tape.Create(path, tape.Meta{Barcode: "T00001", Capacity: capacity}); err != nil {
		t.Fatal(err)
	}
	return path
}

// Open opens the cartridge at path; it is closed when the test ends.
func Open(t testing.TB, path string, readOnly bool) *tape.Medium {
	t.Helper()
	m, err := tape.Open(path, readOnly)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// Locked is a medium behind a mutex, safe for a mover's copy goroutine and
// a poller at once. A test holds the lock to use M directly.
type Locked struct {
	sync.Mutex
	M *tape.Medium
}

// ReadOnly reports whether the medium was opened read-only.
func (l *Locked) ReadOnly() bool { l.Lock(); defer l.Unlock(); return l.M.ReadOnly() }

// WriteRecord writes one record.
func (l *Locked) WriteRecord(p []byte) error {
	l.Lock()
	defer l.Unlock()
	return l.M.WriteRecord(p)
}

// ReadRecord reads one record.
func (l *Locked) ReadRecord(p []byte) (int, error) {
	l.Lock()
	defer l.Unlock()
	return l.M.ReadRecord(p)
}

// SpaceRecords spaces n records, stopping before a filemark.
func (l *Locked) SpaceRecords(n int) (int, error) {
	l.Lock()
	defer l.Unlock()
	return l.M.SpaceRecords(n)
}

// SpaceFilemarks spaces over n filemarks.
func (l *Locked) SpaceFilemarks(n int) (int, error) {
	l.Lock()
	defer l.Unlock()
	return l.M.SpaceFilemarks(n)
}

// EarlyWarning reports whether the medium is past its early-warning point.
func (l *Locked) EarlyWarning() bool { l.Lock(); defer l.Unlock(); return l.M.EarlyWarning() }

// WriteRecords is the baseline the tape LU benchmarks compare with: b.N
// records of data written by the tape store itself to a fresh cartridge at
// path (a large capacity, so the benchmark never meets end of medium).
func WriteRecords(b *testing.B, path string, data []byte) {
	b.Helper()
	if err := tape.Create(path, tape.Meta{Barcode: "B00001", Capacity: 1 << 40}); err != nil {
		b.Fatal(err)
	}
	m, err := tape.Open(path, false)
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if err := m.WriteRecord(data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchDir is a fresh directory under $FERRY_BENCH_DIR (e.g. /dev/shm, to
// take the disk's writeback out of the figures) or tb's temporary
// directory, removed when tb ends.
func BenchDir(tb testing.TB) string {
	base := os.Getenv("FERRY_BENCH_DIR")
	if base == "" {
		return tb.TempDir()
	}
	dir, err := os.MkdirTemp(base, "ferry-bench-")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}
