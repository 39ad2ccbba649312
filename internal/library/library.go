package library

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"ferry/internal/changer"
	"ferry/internal/tape"
)

// Names inside the library directory.
const (
	stateFile = "library.json" // changer state document
	lockFile  = "library.lock" // flock for changer state changes
	tapesDir  = "tapes"        // <BARCODE>.tape cartridges
	drivesDir = "drives"       // <drive>.lock per-drive locks
)

// Options shape the library a fresh directory gets; an existing library
// keeps its own layout.
type Options struct {
	Drives       []string // drive names
	Slots        int      // storage slots, each with a blank cartridge
	ImportExport int      // import/export slots, empty
	Capacity     int64    // bytes per new cartridge
	Prefix       string   // barcode prefix; barcodes are Prefix+"%03d"+Suffix
	Suffix       string   // media type suffix, "L8" for LTO-8
}

// DefaultOptions is the library ferry creates: four drives each loaded
// with a blank cartridge, 20 slots of blank cartridges, 2 empty mail
// slots, 100 GiB cartridges labelled FRY001L8 ...
func DefaultOptions() Options {
	return Options{
		Drives:       []string{"tape0", "tape1", "tape2", "tape3"},
		Slots:        20,
		ImportExport: 2,
		Capacity:     100 << 30,
		Prefix:       "FRY",
		Suffix:       "L8",
	}
}

// Library is the tape library in one state directory.
type Library struct {
	dir    string
	drives []string // drive names, fixed by the layout

	mu     sync.Mutex
	open   map[string]*openDrive
	closed bool
}

// openDrive is a drive this library has open: the lock and the medium.
type openDrive struct {
	lock *os.File
	m    *tape.Medium
}

// Open opens the library in dir (STATE/library), creating the default
// library if dir holds none.
func Open(dir string) (*Library, error) {
	return OpenWith(dir, DefaultOptions())
}

// OpenWith is Open with the layout a fresh library gets. A zero Capacity
// means the default.
func OpenWith(dir string, o Options) (*Library, error) {
	if o.Capacity == 0 {
		o.Capacity = DefaultOptions().Capacity
	}
	for _, d := range []string{dir, filepath.Join(dir, tapesDir), filepath.Join(dir, drivesDir)} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, err
		}
	}
	l := &Library{dir: dir, open: map[string]*openDrive{}}
	var names []string
	err := l.withState(true, func(c *changer.Changer, exists bool) (bool, error) {
		if !exists {
			if err := l.create(c, o); err != nil {
				return false, err
			}
		}
		names = c.Layout().Drives
		return !exists, nil
	})
	if err != nil {
		return nil, err
	}
	l.drives = names
	return l, nil
}

// create fills an empty changer with o's layout and blank cartridges.
func (l *Library) create(c *changer.Changer, o Options) error {
	lay := changer.Layout{Drives: o.Drives, Slots: o.Slots, ImportExport: o.ImportExport}
	if err := lay.Validate(); err != nil {
		return err
	}
	*c = *changer.New(lay)
	// Slots first, so the first slot holds cartridge 001.
	var addrs []uint16
	for _, typ := range []changer.ElementType{changer.Storage, changer.DataTransfer} {
		for _, e := range c.Elements() {
			if e.Type == typ {
				addrs = append(addrs, e.Address)
			}
		}
	}
	for i, addr := range addrs {
		barcode := fmt.Sprintf("%s%03d%s", o.Prefix, i+1, o.Suffix)
		if err := l.newCartridge(barcode, o.Capacity); err != nil {
			return err
		}
		if err := c.Place(addr, barcode); err != nil {
			return err
		}
	}
	return nil
}

// newCartridge creates a blank cartridge file unless one exists.
func (l *Library) newCartridge(barcode string, capacity int64) error {
	path, err := l.CartridgePath(barcode)
	if err != nil {
		return err
	}
	err = tape.Create(path, tape.Meta{Barcode: barcode, Capacity: capacity})
	if errors.Is(err, os.ErrExist) {
		return nil
	}
	return err
}

// CartridgePath returns the file of the cartridge with that barcode.
func (l *Library) CartridgePath(barcode string) (string, error) {
	if !fileSafe(barcode) {
		return "", fmt.Errorf("%w: %q", ErrBadBarcode, barcode)
	}
	return filepath.Join(l.dir, tapesDir, barcode+".tape"), nil
}

// fileSafe reports whether a barcode can be a file name as it is:
// letters, digits, '-', '_' and '.', not starting with '.'.
func fileSafe(s string) bool {
	if s == "" || s[0] == '.' || len(s) > changer.MaxBarcode {
		return false
	}
	for _, r := range s {
		ok := r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.'
		if !ok {
			return false
		}
	}
	return true
}

// Dir returns the library directory.
func (l *Library) Dir() string { return l.dir }

// ChangerName returns the name of the library's media changer.
func (l *Library) ChangerName() string { return "changer0" }

// DriveNames returns the drives' names in element address order.
func (l *Library) DriveNames() []string { return append([]string(nil), l.drives...) }

// Close closes every drive still open through l.
func (l *Library) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrClosed
	}
	l.closed = true
	var first error
	for name, d := range l.open {
		if err := d.close(); err != nil && first == nil {
			first = err
		}
		delete(l.open, name)
	}
	return first
}
