package library

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"ferry/internal/changer"
	"ferry/internal/tape"
	"ferry/internal/tape/store"
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
	Slots        int      // storage slots with a blank cartridge, besides one per drive whose cartridge is in the drive
	ImportExport int      // import/export slots, empty
	Capacity     int64    // bytes per new cartridge
	Prefix       string   // barcode prefix; barcodes are Prefix+"%03d"+Suffix
	Suffix       string   // media type suffix, "L8" for LTO-8

	// Cartridges is where the cartridges live; nil means the store
	// DIR/store.json names (CreateInStore), else one file per cartridge in
	// DIR/tapes (docs/cartridge-store.md).
	Cartridges store.Store
	// FormatVersion is the cartridge format new cartridges are made in;
	// 0 is the current one (tape.FormatVersion), 1 makes cartridges
	// without record checksums, as ferry made them before.
	FormatVersion int
}

// DefaultOptions is the library ferry creates: 20 slots of blank
// 100 GiB cartridges labelled FRY001L8 ... FRY020L8, four drives loaded
// from 4 more slots (tape0 holds FRY021L8 from slot 21), and 2 empty mail
// slots.
func DefaultOptions() Options {
	return Options{
		Drives:       NumberedDrives(4),
		Slots:        20,
		ImportExport: 2,
		Capacity:     100 << 30,
		Prefix:       "FRY",
		Suffix:       "L8",
	}
}

// Library is the tape library in one state directory.
type Library struct {
	dir           string
	formatVersion int         // of new cartridges (Options.FormatVersion)
	drives        []string    // drive names, fixed by the layout
	cartridges    store.Store // the cartridges, by barcode

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
	return openWith(dir, o, false)
}

// Create makes a library in dir with o's layout and returns it open;
// ErrLibraryExists if dir already holds one (its layout is never changed).
func Create(dir string, o Options) (*Library, error) {
	if _, err := os.Stat(filepath.Join(dir, storeFile)); err == nil {
		return nil, ErrLibraryExists
	}
	return openWith(dir, o, true)
}

// openWith opens or creates the library in dir; with mustCreate an
// existing one is ErrLibraryExists, decided under the state lock.
func openWith(dir string, o Options, mustCreate bool) (*Library, error) {
	if o.Capacity == 0 {
		o.Capacity = DefaultOptions().Capacity
	}
	for _, d := range []string{dir, filepath.Join(dir, tapesDir), filepath.Join(dir, drivesDir)} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, err
		}
	}
	l := &Library{dir: dir, cartridges: o.Cartridges, formatVersion: o.FormatVersion, open: map[string]*openDrive{}}
	if l.cartridges == nil {
		s, err := configuredStore(dir)
		if err != nil {
			return nil, err
		}
		if s != nil {
			l.cartridges = s
		}
	}
	if l.cartridges == nil {
		l.cartridges = store.NewFile(filepath.Join(dir, tapesDir))
	}
	var names []string
	err := l.withState(true, func(c *changer.Changer, exists bool) (bool, error) {
		if exists && mustCreate {
			return false, ErrLibraryExists
		}
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

// create fills an empty changer with o's layout and blank cartridges, as
// a robot is filled: o.Slots slots with a cartridge each, then one slot
// per drive whose cartridge the robot loaded into the drive, so the drive
// reports that slot as its cartridge's source (SMC "source storage
// element") and a backup application can put it back there.
func (l *Library) create(c *changer.Changer, o Options) error {
	lay := changer.Layout{Drives: o.Drives, Slots: o.Slots + len(o.Drives), ImportExport: o.ImportExport}
	if err := lay.Validate(); err != nil {
		return err
	}
	*c = *changer.New(lay)
	// The blank cartridges are made side by side: each is synced, and
	// the file system commits concurrent syncs together, so a new
	// library (every first `ferry backup`) costs one sync's wait, not one
	// per cartridge.
	errs := make([]error, lay.Slots)
	var wg sync.WaitGroup
	for i := range lay.Slots {
		wg.Go(func() { errs[i] = l.newCartridge(fmt.Sprintf("%s%03d%s", o.Prefix, i+1, o.Suffix), o.Capacity) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	for i := range lay.Slots {
		if err := c.Place(changer.SlotBase+uint16(i), fmt.Sprintf("%s%03d%s", o.Prefix, i+1, o.Suffix)); err != nil {
			return err
		}
	}
	for i := range o.Drives {
		home := changer.SlotBase + uint16(o.Slots+i)
		if err := c.Move(home, changer.DriveBase+uint16(i)); err != nil {
			return err
		}
	}
	return nil
}

// NumberedDrives returns the names of n drives: tape0, tape1, ...
func NumberedDrives(n int) []string {
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("tape%d", i)
	}
	return names
}

// newCartridge creates a blank cartridge unless one exists.
func (l *Library) newCartridge(barcode string, capacity int64) error {
	return l.newCartridgeMeta(tape.Meta{Barcode: barcode, Capacity: capacity})
}

// newCartridgeMeta creates a blank cartridge as m describes unless one
// exists.
func (l *Library) newCartridgeMeta(m tape.Meta) error {
	if err := checkBarcode(m.Barcode); err != nil {
		return err
	}
	m.Version = l.formatVersion
	err := tape.CreateIn(l.cartridges, m)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	return err
}

// checkBarcode fails with ErrBadBarcode unless the barcode can name a
// cartridge in every store.
func checkBarcode(barcode string) error {
	if !store.ValidBarcode(barcode) {
		return fmt.Errorf("%w: %q", ErrBadBarcode, barcode)
	}
	return nil
}

// CartridgePath returns the file of the cartridge with that barcode, for
// tests and tools that work on the files of a library kept in files;
// ErrNoCartridgeFile for a library whose cartridges are not files.
func (l *Library) CartridgePath(barcode string) (string, error) {
	fs, ok := l.cartridges.(*store.File)
	if !ok {
		return "", ErrNoCartridgeFile
	}
	if err := checkBarcode(barcode); err != nil {
		return "", err
	}
	return fs.Path(barcode)
}

// cartridgeName names a cartridge in errors: its file if it has one.
func (l *Library) cartridgeName(barcode string) string {
	if p, err := l.CartridgePath(barcode); err == nil {
		return p
	}
	return barcode
}

// CartridgeMeta returns the metadata of a cartridge (barcode, capacity,
// write-protect tab) without opening it for reading.
func (l *Library) CartridgeMeta(barcode string) (tape.Meta, error) {
	return tape.ReadMetaIn(l.cartridges, barcode)
}

// OpenCartridge opens a cartridge read-only without taking any drive, as
// `ferry tape cat` and a drive's status queries do: it sees what a writer
// beside it has completed. The caller closes the medium.
func (l *Library) OpenCartridge(barcode string) (*tape.Medium, error) {
	return tape.OpenIn(l.cartridges, barcode, true)
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
