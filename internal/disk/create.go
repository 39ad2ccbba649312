package disk

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Options are the choices Create takes beside the name and size.
type Options struct {
	// BlockSize is 512 (default) or 4096.
	BlockSize int
	// From attaches an existing raw image or block device instead of
	// creating NAME.img; a size of 0 then takes the image's size.
	From string
	// Thick allocates every block up front and turns thin provisioning
	// off (no UNMAP). Attached images keep their allocation either way.
	Thick bool
	// Now stamps the sidecar; zero uses the clock.
	Now time.Time
}

// Create makes a disk in dir (STATE/disks, created if missing): a sparse
// image of size bytes and its sidecar, or a sidecar for the image at
// opts.From. It fails with ErrExists when the name is taken.
func Create(dir, name string, size int64, opts Options) (Meta, error) {
	m, err := newMeta(name, size, opts)
	if err != nil {
		return Meta{}, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return Meta{}, err
	}
	unlock, err := lockDir(dir)
	if err != nil {
		return Meta{}, err
	}
	defer unlock()
	if _, err := os.Lstat(sidecarPath(dir, name)); err == nil {
		return Meta{}, fmt.Errorf("%w: %s", ErrExists, name)
	}
	if m.Index, err = freeIndex(dir); err != nil {
		return Meta{}, err
	}
	if opts.From != "" {
		if m, err = attach(m, opts.From); err != nil {
			return Meta{}, err
		}
		return m, publishMeta(dir, m)
	}
	img := m.ImagePath(dir)
	if err := makeImage(img, int64(m.Size), opts.Thick); err != nil {
		return Meta{}, err
	}
	if err := publishMeta(dir, m); err != nil {
		if errors.Is(err, ErrExists) {
			return Meta{}, err // the winner's image is now ours too: leave it
		}
		os.Remove(img)
		return Meta{}, err
	}
	return m, nil
}

// freeIndex is the smallest index no disk in dir has.
func freeIndex(dir string) (int, error) {
	disks, err := List(dir)
	if err != nil && len(disks) == 0 && !errors.Is(err, fs.ErrNotExist) {
		return 0, err
	}
	used := map[int]bool{}
	for _, m := range disks {
		used[m.Index] = true
	}
	for i := 0; i <= maxIndex; i++ {
		if !used[i] {
			return i, nil
		}
	}
	return 0, errors.New("disk: no free index")
}

// newMeta checks the arguments and fills a version 1 sidecar.
func newMeta(name string, size int64, opts Options) (Meta, error) {
	if err := checkName(name); err != nil {
		return Meta{}, err
	}
	bs := opts.BlockSize
	if bs == 0 {
		bs = DefaultBlockSize
	}
	if bs != 512 && bs != 4096 {
		return Meta{}, ErrBadBlock
	}
	if size < 0 || size%int64(bs) != 0 || size == 0 && opts.From == "" {
		return Meta{}, fmt.Errorf("%w: %d bytes, block size %d", ErrBadSize, size, bs)
	}
	naa, err := newNAA()
	if err != nil {
		return Meta{}, err
	}
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	return Meta{Version: Version, Name: name, BlockSize: uint32(bs), Size: uint64(size),
		NAA: naa, Thin: !opts.Thick, Created: now.UTC()}, nil
}

// makeImage creates a new image file of size bytes: sparse, or fully
// allocated when thick.
func makeImage(path string, size int64, thick bool) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%w: image %s", ErrExists, path)
	}
	if err != nil {
		return err
	}
	err = f.Truncate(size)
	if err == nil && thick {
		err = preallocate(f, size)
	}
	if err == nil {
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

// attach points the sidecar at an existing image or block device and
// settles the size: the image's own when none was asked for; a regular
// file shorter than asked grows (sparsely).
func attach(m Meta, from string) (Meta, error) {
	abs, err := filepath.Abs(from)
	if err != nil {
		return Meta{}, err
	}
	f, err := os.OpenFile(abs, os.O_RDWR, 0)
	if err != nil {
		return Meta{}, err
	}
	defer f.Close()
	have, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return Meta{}, err
	}
	m.Image = abs
	if m.Size == 0 {
		m.Size = uint64(have)
	}
	if m.Size == 0 || m.Size%uint64(m.BlockSize) != 0 {
		return Meta{}, fmt.Errorf("%w: %s is %d bytes, block size %d", ErrBadSize, abs, m.Size, m.BlockSize)
	}
	if int64(m.Size) > have {
		if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
			return Meta{}, fmt.Errorf("%w: %s holds only %d bytes", ErrBadSize, abs, have)
		}
		if err := f.Truncate(int64(m.Size)); err != nil {
			return Meta{}, err
		}
	}
	return m, nil
}

// Open opens the disk name in dir for reading and writing.
func Open(dir, name string) (*Disk, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	m, err := readMeta(sidecarPath(dir, name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, name)
	}
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(m.ImagePath(dir), os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("disk: open %s: %w", name, err)
	}
	d := &Disk{meta: m, path: sidecarPath(dir, name), f: f, fd: int(f.Fd())}
	if d.trk, err = openTracker(d, time.Now); err != nil {
		f.Close()
		return nil, fmt.Errorf("disk: snapshots of %s: %w", name, err)
	}
	if d.trk == nil {
		d.guestRO = hasActiveSnapshot(d.snapDir())
	}
	return d, nil
}

// hasActiveSnapshot reports whether a snapshot record in dir is active
// (or unreadable: then it may be).
func hasActiveSnapshot(dir string) bool {
	paths, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	for _, p := range paths {
		if strings.HasPrefix(filepath.Base(p), ".") {
			continue
		}
		s, err := readSnapshot(p)
		if err != nil || s.State == SnapshotActive {
			return true
		}
	}
	return false
}
