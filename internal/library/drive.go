package library

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"syscall"

	"ferry/internal/changer"
	"ferry/internal/tape"
)

// OpenDrive opens the cartridge loaded in the named drive, positioned at
// beginning of tape: a drive remembers nothing between opens, as a real
// drive after a load. The drive stays exclusively open (across sessions
// and processes) until CloseDrive. Errors: ErrNoDevice, ErrDeviceBusy,
// ErrNoMedium, tape.ErrWriteProtected (a writable open of a protected
// cartridge), tape.ErrDamaged (a writable open of a cartridge that lost
// data; open it read-only to read what is left), tape.ErrNotCartridge (a
// damaged header, with the cartridge file named).
func (l *Library) OpenDrive(name string, readOnly bool) (*tape.Medium, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.closed:
		return nil, ErrClosed
	case !slices.Contains(l.drives, name):
		return nil, fmt.Errorf("%w: %q", ErrNoDevice, name)
	case l.open[name] != nil:
		return nil, fmt.Errorf("%w: %s", ErrDeviceBusy, name)
	}
	lock, err := l.lockDrive(name)
	if err != nil {
		return nil, err
	}
	m, err := l.loadMedium(name, readOnly)
	if err != nil {
		lock.Close()
		return nil, err
	}
	l.open[name] = &openDrive{lock: lock, m: m}
	return m, nil
}

// loadMedium opens the cartridge the state says is in the drive.
func (l *Library) loadMedium(name string, readOnly bool) (*tape.Medium, error) {
	barcode, err := l.loaded(name)
	if err != nil {
		return nil, err
	}
	if err := checkBarcode(barcode); err != nil {
		return nil, err
	}
	m, err := tape.OpenIn(l.cartridges, barcode, readOnly)
	switch {
	case errors.Is(err, tape.ErrInUse):
		return nil, fmt.Errorf("%w: %s: cartridge written elsewhere", ErrDeviceBusy, name)
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("%w: %s", ErrMissingCartridge, l.cartridgeName(barcode))
	case errors.Is(err, tape.ErrNotCartridge), errors.Is(err, tape.ErrUnsupportedVersion):
		// The header page does not tell the barcode: the file does.
		return nil, fmt.Errorf("library: drive %s: cartridge file %s: %w", name, l.cartridgeName(barcode), err)
	}
	return m, err
}

// loaded returns the barcode of the cartridge loaded in the drive.
func (l *Library) loaded(name string) (string, error) {
	var barcode string
	err := l.withState(false, func(c *changer.Changer, _ bool) (bool, error) {
		e, err := c.DriveElement(name)
		if err != nil {
			return false, fmt.Errorf("%w: %q", ErrNoDevice, name)
		}
		if !e.Full {
			return false, fmt.Errorf("%w: %s", ErrNoMedium, name)
		}
		barcode = e.Barcode
		return false, nil
	})
	return barcode, err
}

// CloseDrive closes a medium OpenDrive returned, making its data durable,
// and releases the drive.
func (l *Library) CloseDrive(name string, m *tape.Medium) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	d := l.open[name]
	if d == nil || d.m != m {
		return fmt.Errorf("%w: %q", ErrNotOpen, name)
	}
	delete(l.open, name)
	return d.close()
}

// close closes the medium and releases the drive lock.
func (d *openDrive) close() error {
	err := d.m.Close()
	if cerr := d.lock.Close(); err == nil {
		err = cerr
	}
	return err
}

// lockDrive takes the drive's exclusive lock without waiting.
func (l *Library) lockDrive(name string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(l.dir, drivesDir, name+".lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := flock(f, syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s", ErrDeviceBusy, name)
		}
		return nil, fmt.Errorf("library: lock drive %s: %w", name, err)
	}
	return f, nil
}

// driveFree reports whether no session anywhere has the drive open. The
// caller holds the library lock, so the answer stays true until it is
// released: OpenDrive reads the state under that lock.
func (l *Library) driveFree(name string) error {
	f, err := l.lockDrive(name)
	if errors.Is(err, ErrDeviceBusy) {
		return fmt.Errorf("%w: %s", changer.ErrDriveInUse, name)
	}
	if err != nil {
		return err
	}
	return f.Close()
}
