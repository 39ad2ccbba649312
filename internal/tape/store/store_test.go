package store_test

import (
	"testing"

	"ferry/internal/tape/store"
	"ferry/internal/tape/storetest"
)

func TestFileStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) (a, b store.Store) {
		dir := t.TempDir()
		return store.NewFile(dir), store.NewFile(dir)
	})
}

func TestMemStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) (a, b store.Store) {
		s := store.NewMem()
		return s, s
	})
}

// TestMemBufferedStore: a store whose writers publish only at Sync and
// Close, as S3 does, keeps the contract.
func TestMemBufferedStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) (a, b store.Store) {
		s := store.NewMemBuffered()
		return s, s
	})
}

// TestMemBufferedHidesUnsynced: other opens see nothing written since the
// last Sync.
func TestMemBufferedHidesUnsynced(t *testing.T) {
	s := store.NewMemBuffered()
	s.Create("T1", []byte("head"))
	w, _ := s.Open("T1", true)
	defer w.Close()
	w.WriteAt([]byte("data"), 100)
	r, _ := s.Open("T1", false)
	defer r.Close()
	if size, _ := r.Size(); size != 4 {
		t.Fatalf("reader sees size %d before the sync", size)
	}
	w.Sync()
	if size, _ := r.Size(); size != 104 {
		t.Fatalf("reader sees size %d after the sync", size)
	}
}

// TestFaultyStore: the wrapper, injecting nothing, keeps the contract.
func TestFaultyStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) (a, b store.Store) {
		f := store.NewFaulty(store.NewMem())
		return f, f
	})
}
