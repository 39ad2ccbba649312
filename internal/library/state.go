package library

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"ferry/internal/changer"
)

// withState runs fn on the changer state read from disk, under the
// library lock: exclusive if write, shared otherwise. If fn reports a
// change (write only), the state is saved before the lock is released.
// exists is false when the directory has no state yet.
func (l *Library) withState(write bool, fn func(c *changer.Changer, exists bool) (bool, error)) error {
	unlock, err := l.lockState(write)
	if err != nil {
		return err
	}
	defer unlock()
	c := &changer.Changer{}
	b, err := os.ReadFile(filepath.Join(l.dir, stateFile))
	exists := err == nil
	switch {
	case errors.Is(err, fs.ErrNotExist) && write:
	case err != nil:
		return fmt.Errorf("library: read state: %w", err)
	default:
		if err := c.UnmarshalJSON(b); err != nil {
			return fmt.Errorf("library: %s: %w", stateFile, err)
		}
	}
	changed, err := fn(c, exists)
	if err != nil || !changed {
		return err
	}
	return l.save(c)
}

// lockState takes the library lock. A fresh descriptor per call makes
// the lock exclude other goroutines of this process as well as other
// processes.
func (l *Library) lockState(exclusive bool) (func(), error) {
	f, err := os.OpenFile(filepath.Join(l.dir, lockFile), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	how := syscall.LOCK_SH
	if exclusive {
		how = syscall.LOCK_EX
	}
	if err := flock(f, how); err != nil {
		f.Close()
		return nil, fmt.Errorf("library: lock: %w", err)
	}
	return func() { f.Close() }, nil
}

// flock is flock(2), retried when a signal interrupts it.
func flock(f *os.File, how int) error {
	for {
		err := syscall.Flock(int(f.Fd()), how)
		if err != syscall.EINTR {
			return err
		}
	}
}

// save writes the state document atomically: a temporary file, fsync,
// rename over the old one, fsync of the directory.
func (l *Library) save(c *changer.Changer) error {
	b, err := c.MarshalJSON()
	if err != nil {
		return err
	}
	tmp := filepath.Join(l.dir, stateFile+".tmp")
	if err := writeSynced(tmp, b); err != nil {
		return fmt.Errorf("library: save state: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(l.dir, stateFile)); err != nil {
		return fmt.Errorf("library: save state: %w", err)
	}
	return syncDir(l.dir)
}

// writeSynced writes b to path and fsyncs it.
func writeSynced(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
