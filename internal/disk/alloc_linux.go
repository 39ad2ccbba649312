package disk

import (
	"errors"
	"os"
	"syscall"
)

// Linux lseek whence values and fallocate modes.
const (
	seekData       = 3
	seekHole       = 4
	fallocKeepSize = 0x01
	fallocPunch    = 0x02
)

// Extent reports whether the byte at off is allocated in the image and
// how many bytes from off, at most limit, share that state. It asks the
// file system (SEEK_DATA/SEEK_HOLE), so it sees writes by any process;
// where the file system cannot tell (block devices), and on a thick
// disk (whose preallocated extents some file systems report as holes),
// everything is allocated.
func (d *Disk) Extent(off, limit int64) (mapped bool, n int64, err error) {
	if err := d.bounds(off, limit); err != nil {
		return false, 0, err
	}
	if !d.meta.Thin {
		return true, limit, nil
	}
	return fileExtent(d.f, d.fd, off, limit)
}

// fileExtent asks the file system about the allocation of f from off.
func fileExtent(f *os.File, fd int, off, limit int64) (mapped bool, n int64, err error) {
	data, err := syscall.Seek(fd, off, seekData)
	switch {
	case errors.Is(err, syscall.ENXIO):
		return false, limit, nil // only holes (or the file's end) from off
	case errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.EOPNOTSUPP):
		return true, limit, nil
	case err != nil:
		return false, 0, &os.PathError{Op: "seek data", Path: f.Name(), Err: err}
	case data > off:
		return false, min(data-off, limit), nil
	}
	hole, err := syscall.Seek(fd, off, seekHole)
	if err != nil {
		return false, 0, &os.PathError{Op: "seek hole", Path: f.Name(), Err: err}
	}
	return true, min(hole-off, limit), nil
}

// Deallocate punches a hole over n bytes at off: they read as zeros and,
// where whole file system blocks are covered, stop taking space.
func (d *Disk) Deallocate(off, n int64) error {
	if err := d.bounds(off, n); err != nil {
		return err
	}
	if n == 0 {
		return nil
	}
	if t := d.trk; t != nil {
		t.gate.RLock()
		defer t.gate.RUnlock()
		t.beforeWrite(off, n)
	} else if d.guestRO {
		return ErrBusy
	}
	for {
		err := syscall.Fallocate(d.fd, fallocPunch|fallocKeepSize, off, n)
		if err == syscall.EINTR {
			continue
		}
		if errors.Is(err, syscall.EOPNOTSUPP) {
			return d.writeZeros(off, n)
		}
		if err != nil {
			return &os.PathError{Op: "punch hole", Path: d.f.Name(), Err: err}
		}
		return nil
	}
}

// preallocate allocates every byte of a new image.
func preallocate(f *os.File, size int64) error {
	for {
		err := syscall.Fallocate(int(f.Fd()), 0, 0, size)
		if err != syscall.EINTR {
			return err
		}
	}
}
