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

// TestFaultyStore: the wrapper, injecting nothing, keeps the contract.
func TestFaultyStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) (a, b store.Store) {
		f := store.NewFaulty(store.NewMem())
		return f, f
	})
}
