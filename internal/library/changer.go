package library

import (
	"errors"
	"fmt"
	"io/fs"

	"ferry/internal/changer"
	"ferry/internal/tape"
)

// Elements returns every element of the changer, read from disk.
func (l *Library) Elements() ([]changer.Element, error) {
	var els []changer.Element
	err := l.withState(false, func(c *changer.Changer, _ bool) (bool, error) {
		els = c.Elements()
		return false, nil
	})
	return els, err
}

// Move moves a cartridge from src to dst (SMC MOVE MEDIUM). Beyond the
// changer's rules it refuses to take a cartridge out of a drive that is
// open: changer.ErrDriveInUse.
func (l *Library) Move(src, dst uint16) error {
	return l.change(func(c *changer.Changer) error {
		if err := l.leaving(c, src); err != nil {
			return err
		}
		return c.Move(src, dst)
	})
}

// Exchange moves the cartridge at src to dst1 and the one at dst1 to
// dst2 (SMC EXCHANGE MEDIUM), refusing open drives like Move.
func (l *Library) Exchange(src, dst1, dst2 uint16) error {
	return l.change(func(c *changer.Changer) error {
		if err := l.leaving(c, src); err != nil {
			return err
		}
		if err := l.leaving(c, dst1); err != nil {
			return err
		}
		return c.Exchange(src, dst1, dst2)
	})
}

// SetPreventRemoval prevents or allows removal through the mail slots
// (SMC PREVENT ALLOW MEDIUM REMOVAL).
func (l *Library) SetPreventRemoval(prevent bool) error {
	return l.change(func(c *changer.Changer) error {
		c.SetPreventRemoval(prevent)
		return nil
	})
}

// InitializeElementStatus re-reads the state and checks that the file of
// every cartridge in the library exists and is a cartridge (SMC
// INITIALIZE ELEMENT STATUS). Missing ones are reported with
// ErrMissingCartridge.
func (l *Library) InitializeElementStatus() error {
	els, err := l.Elements()
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range els {
		if !e.Full {
			continue
		}
		err := checkBarcode(e.Barcode)
		if err == nil {
			_, err = l.CartridgeMeta(e.Barcode)
		}
		if errors.Is(err, fs.ErrNotExist) {
			err = fmt.Errorf("%w: %s at %#04x", ErrMissingCartridge, e.Barcode, e.Address)
		} else if err != nil {
			err = fmt.Errorf("library: cartridge %s at %#04x: %w", e.Barcode, e.Address, err)
		}
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Import puts a cartridge into the first empty import/export slot, as an
// operator does; its file is created blank (capacity bytes; 0 means the
// default) unless it exists. It returns the slot's address.
func (l *Library) Import(barcode string, capacity int64) (uint16, error) {
	return l.importCartridge(tape.Meta{Barcode: barcode, Capacity: capacity})
}

// ImportWORM is Import of a write-once cartridge (tape.Meta.WORM), made
// blank unless it exists.
func (l *Library) ImportWORM(barcode string, capacity int64) (uint16, error) {
	return l.importCartridge(tape.Meta{Barcode: barcode, Capacity: capacity, WORM: true})
}

func (l *Library) importCartridge(m tape.Meta) (uint16, error) {
	barcode, capacity := m.Barcode, m.Capacity
	if capacity == 0 {
		capacity = DefaultOptions().Capacity
	}
	if err := checkBarcode(barcode); err != nil {
		return 0, err
	}
	var addr uint16
	err := l.change(func(c *changer.Changer) error {
		for _, e := range c.Elements() {
			if e.Type == changer.ImportExport && !e.Full {
				if err := l.newCartridgeMeta(tape.Meta{Barcode: barcode, Capacity: capacity, WORM: m.WORM}); err != nil {
					return err
				}
				addr = e.Address
				return c.Place(addr, barcode)
			}
		}
		return fmt.Errorf("%w: no empty import/export slot", changer.ErrDestinationFull)
	})
	return addr, err
}

// Export takes the cartridge out of an import/export slot, as an operator
// does, and returns its barcode. The cartridge file stays in the tapes
// directory (on the shelf) for a later Import.
func (l *Library) Export(addr uint16) (string, error) {
	var barcode string
	err := l.change(func(c *changer.Changer) error {
		e, err := c.Element(addr)
		if err != nil {
			return err
		}
		if e.Type != changer.ImportExport {
			return fmt.Errorf("%w: %#04x is not an import/export slot", changer.ErrInvalidAddress, addr)
		}
		barcode, err = c.Remove(addr)
		return err
	})
	return barcode, err
}

// change runs fn on the state under the exclusive lock and saves it if fn
// succeeds. The changer leaves its state unchanged on error.
func (l *Library) change(fn func(c *changer.Changer) error) error {
	return l.withState(true, func(c *changer.Changer, exists bool) (bool, error) {
		if !exists {
			return false, fmt.Errorf("library: no state in %s", l.dir)
		}
		return true, fn(c)
	})
}

// leaving refuses to take a cartridge out of an open drive.
func (l *Library) leaving(c *changer.Changer, addr uint16) error {
	e, err := c.Element(addr)
	if err != nil || e.Type != changer.DataTransfer || !e.Full {
		return nil // the changer reports bad or empty sources itself
	}
	return l.driveFree(e.Drive)
}
