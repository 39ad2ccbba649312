package restore

import (
	"errors"
	"io/fs"
	"os"
	"path"
	"sync"
	"syscall"
)

// Written is the set of destination names a restore created or replaced.
// The Extractors of one chain restore (the full backup, then each
// incremental) share one, so an incremental's listing removes only what
// the restore itself put there from an earlier backup of the chain, never
// what the destination held before. It costs about 100 bytes per name.
type Written struct {
	mu    sync.Mutex
	names map[string]struct{}
}

// NewWritten returns an empty set.
func NewWritten() *Written { return &Written{names: map[string]struct{}{}} }

func (w *Written) add(name string) {
	w.mu.Lock()
	w.names[name] = struct{}{}
	w.mu.Unlock()
}

// Has reports whether the restore wrote name (relative to the root).
func (w *Written) Has(name string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	_, ok := w.names[name]
	return ok
}

// Len is the number of names written.
func (w *Written) Len() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.names)
}

// removeWritten removes p and what lies below it, as far as the restore
// wrote it: a directory still holding a name the restore did not write
// stays, with that name. It returns the names removed.
func removeWritten(root *os.Root, p string, w *Written) ([]string, error) {
	fi, err := root.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var removed []string
	if fi.IsDir() {
		f, err := root.Open(p)
		if err != nil {
			return nil, err
		}
		names, err := f.Readdirnames(-1)
		f.Close()
		if err != nil {
			return nil, err
		}
		for _, n := range names {
			gone, err := removeWritten(root, path.Join(p, n), w)
			removed = append(removed, gone...)
			if err != nil {
				return removed, err
			}
		}
	}
	if !w.Has(p) {
		return removed, nil
	}
	err = root.Remove(p)
	if errors.Is(err, syscall.ENOTEMPTY) || errors.Is(err, syscall.EEXIST) {
		return removed, nil // holds what was there before: it stays
	}
	if err != nil {
		return removed, err
	}
	return append(removed, p), nil
}
