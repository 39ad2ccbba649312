package disk

import (
	"errors"
	"io/fs"
	"os"
	"strings"

	"ferry/internal/atomicfile"
)

// reservationsPath is NAME.pr beside the sidecar: the persistent
// reservations the SBC device keeps across restarts (APTPL).
func (d *Disk) reservationsPath() string {
	return strings.TrimSuffix(d.path, ".json") + ".pr"
}

// LoadReservations returns the saved persistent reservation state, nil
// when there is none.
func (d *Disk) LoadReservations() ([]byte, error) {
	b, err := os.ReadFile(d.reservationsPath())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return b, err
}

// SaveReservations replaces the saved state atomically and durably; nil
// removes it.
func (d *Disk) SaveReservations(b []byte) error {
	path := d.reservationsPath()
	if b == nil {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	}
	return atomicfile.Write(path, b, 0o600)
}
