package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// fileExt ends the name of every cartridge file in a File store.
const fileExt = ".tape"

// File is a Store of one file per cartridge, DIR/<BARCODE>.tape, mode
// 0600. The writer lease is flock(LOCK_EX|LOCK_NB) on the file, which the
// kernel drops when the holder dies. WriteAt reaches the page cache, so
// other opens see it at once and a killed process loses nothing it wrote.
type File struct {
	dir string
}

var _ Store = (*File)(nil)

// NewFile returns the store of the cartridge files in dir, which must exist.
func NewFile(dir string) *File { return &File{dir: dir} }

// Path returns the file of the cartridge with that barcode.
func (s *File) Path(barcode string) (string, error) {
	if !ValidBarcode(barcode) {
		return "", fmt.Errorf("%w: %q", ErrBadBarcode, barcode)
	}
	return filepath.Join(s.dir, barcode+fileExt), nil
}

// Create makes DIR/<barcode>.tape holding head, durably.
func (s *File) Create(barcode string, head []byte) error {
	path, err := s.Path(barcode)
	if err != nil {
		return err
	}
	return CreateFile(path, head)
}

// Open opens DIR/<barcode>.tape.
func (s *File) Open(barcode string, writable bool) (Cartridge, error) {
	path, err := s.Path(barcode)
	if err != nil {
		return nil, err
	}
	return OpenFile(path, writable)
}

// List returns the barcodes of the .tape files in the directory.
func (s *File) List() ([]string, error) {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		b, ok := strings.CutSuffix(e.Name(), fileExt)
		if ok && !e.IsDir() && ValidBarcode(b) {
			out = append(out, b)
		}
	}
	return out, nil
}

// Remove deletes the cartridge file, holding its lease while it does.
func (s *File) Remove(barcode string) error {
	path, err := s.Path(barcode)
	if err != nil {
		return err
	}
	c, err := OpenFile(path, true)
	if err != nil {
		return err
	}
	defer c.Close()
	return os.Remove(path)
}

// CreateFile creates the cartridge file path exclusively with contents
// head, durably (fsync); nothing is left behind if it fails.
func CreateFile(path string, head []byte) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err = f.Write(head); err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
	}
	return err
}

// OpenFile opens the cartridge file path; a writable open takes its flock.
func OpenFile(path string, writable bool) (Cartridge, error) {
	flag := os.O_RDONLY
	if writable {
		flag = os.O_RDWR
	}
	f, err := os.OpenFile(path, flag, 0)
	if err != nil {
		return nil, err
	}
	if writable {
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			f.Close()
			if errors.Is(err, syscall.EWOULDBLOCK) {
				return nil, fmt.Errorf("%w: %s", ErrInUse, path)
			}
			return nil, fmt.Errorf("store: lock %s: %w", path, err)
		}
	}
	return &fileCartridge{f: f, ro: !writable}, nil
}

// fileCartridge is an open cartridge file.
type fileCartridge struct {
	f      *os.File
	ro     bool
	closed bool
	// pending is the run of data written since writeback was last
	// started on it: [from, to).
	from, to int64
}

// writebackRun is how much contiguous data a cartridge file collects
// before the kernel is asked to start writing it to disk. The syncs at
// filemarks then find most of it written already, so a backup's data
// reaches the disk while the backup runs rather than all at its end.
const writebackRun = 8 << 20

// writebackMin is the smallest write that counts as payload: the 64-byte
// index entries written between payloads neither start nor break a run.
const writebackMin = 4096

func (c *fileCartridge) ReadAt(p []byte, off int64) (int, error) {
	if c.closed {
		return 0, ErrClosed
	}
	return c.f.ReadAt(p, off)
}

func (c *fileCartridge) WriteAt(p []byte, off int64) (int, error) {
	if err := c.writable(); err != nil {
		return 0, err
	}
	n, err := c.f.WriteAt(p, off)
	if n >= writebackMin {
		c.noteWritten(off, int64(n))
	}
	return n, err
}

// noteWritten extends the pending run by a payload written at off, or
// starts a new one, and starts writeback of a run that grew long enough.
// Writeback is a hint: its errors show at the next Sync.
func (c *fileCartridge) noteWritten(off, n int64) {
	if off != c.to {
		c.from = off
	}
	c.to = off + n
	if c.to-c.from >= writebackRun {
		startWriteback(c.f, c.from, c.to-c.from)
		c.from = c.to
	}
}

func (c *fileCartridge) Size() (int64, error) {
	if c.closed {
		return 0, ErrClosed
	}
	fi, err := c.f.Stat()
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

func (c *fileCartridge) Truncate(size int64) error {
	if err := c.writable(); err != nil {
		return err
	}
	return c.f.Truncate(size)
}

// Sync is fdatasync: the file's length is data, its times are not.
func (c *fileCartridge) Sync() error {
	if c.closed {
		return ErrClosed
	}
	if c.ro {
		return nil
	}
	return syscall.Fdatasync(int(c.f.Fd()))
}

func (c *fileCartridge) Close() error {
	if c.closed {
		return ErrClosed
	}
	c.closed = true
	return c.f.Close()
}

func (c *fileCartridge) Name() string { return c.f.Name() }

// writable returns why the cartridge cannot be changed, if it cannot.
func (c *fileCartridge) writable() error {
	if c.closed {
		return ErrClosed
	}
	if c.ro {
		return ErrReadOnly
	}
	return nil
}
