// Package disk keeps the state directory's disks: raw images in
// STATE/disks/NAME.img (the bytes of logical block n at offset n × block
// size and nothing else, sparse) described by a versioned sidecar
// NAME.json, or existing images and block devices attached by path.
// Allocation is the image's own: a hole is an unmapped block, so
// provisioning status stays right for writes made by any process.
// docs/disk.md is the format.
package disk

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// Errors callers tell apart.
var (
	ErrExists      = errors.New("disk: already exists")
	ErrNotFound    = errors.New("disk: no such disk")
	ErrBadName     = errors.New("disk: invalid name (1-64 of A-Z a-z 0-9 . _ -, not starting with . or -)")
	ErrBadSize     = errors.New("disk: size must be a positive multiple of the block size")
	ErrBadBlock    = errors.New("disk: block size must be 512 or 4096")
	ErrBadMeta     = errors.New("disk: malformed sidecar")
	ErrVersion     = errors.New("disk: sidecar version too new")
	ErrClosed      = errors.New("disk: closed")
	ErrOutOfBounds = errors.New("disk: access beyond the end of the disk")
)

// Disk is an open disk. Reads and writes are safe for concurrent use.
type Disk struct {
	meta Meta
	path string // the sidecar's path
	f    *os.File
	fd   int // f's descriptor, for SEEK_DATA/SEEK_HOLE and fallocate
	// trk keeps the disk's snapshots; nil when another process serves
	// the disk (it holds the tracking lock).
	trk *tracker
	// guestRO refuses writes from a process that does not track the
	// disk while it has active snapshots: they would bypass them.
	guestRO bool
}

// Meta returns the disk's description.
func (d *Disk) Meta() Meta { return d.meta }

// Name is the disk's name, also its unit serial number.
func (d *Disk) Name() string { return d.meta.Name }

// BlockSize is the logical block size in bytes.
func (d *Disk) BlockSize() int { return int(d.meta.BlockSize) }

// Blocks is the number of logical blocks.
func (d *Disk) Blocks() uint64 { return d.meta.Size / uint64(d.meta.BlockSize) }

// NAA is the disk's NAA designator (8 bytes, NAA 3 locally assigned),
// generated once at creation.
func (d *Disk) NAA() []byte { return d.meta.naa() }

// Thin reports whether the disk is thin provisioned: unmapped blocks are
// holes and UNMAP deallocates.
func (d *Disk) Thin() bool { return d.meta.Thin }

// ReadAt reads len(p) bytes at byte offset off; holes read as zeros.
func (d *Disk) ReadAt(p []byte, off int64) (int, error) {
	if err := d.bounds(off, int64(len(p))); err != nil {
		return 0, err
	}
	n, err := d.f.ReadAt(p, off)
	if err == io.EOF && n < len(p) {
		// An image shorter than its size (attached, or truncated by
		// hand): the rest reads as zeros.
		clear(p[n:])
		return len(p), nil
	}
	return n, err
}

// WriteAt writes p at byte offset off.
func (d *Disk) WriteAt(p []byte, off int64) (int, error) {
	if err := d.bounds(off, int64(len(p))); err != nil {
		return 0, err
	}
	if t := d.trk; t != nil {
		t.gate.RLock()
		defer t.gate.RUnlock()
		t.beforeWrite(off, int64(len(p)))
	} else if d.guestRO {
		return 0, fmt.Errorf("%w: %s has active snapshots", ErrBusy, d.meta.Name)
	}
	return d.f.WriteAt(p, off)
}

// bounds checks a byte range against the disk's size.
func (d *Disk) bounds(off, n int64) error {
	if off < 0 || n < 0 || uint64(off)+uint64(n) > d.meta.Size {
		return ErrOutOfBounds
	}
	return nil
}

// Sync flushes written data to stable storage.
func (d *Disk) Sync() error { return d.f.Sync() }

// Close closes the image, and the snapshots' files after making them
// durable.
func (d *Disk) Close() error {
	var err error
	if d.trk != nil {
		err = d.trk.close()
	}
	return errors.Join(err, d.f.Close())
}

// String names the disk for messages.
func (d *Disk) String() string {
	return fmt.Sprintf("disk %s (%d × %d bytes)", d.meta.Name, d.Blocks(), d.meta.BlockSize)
}

// writeZeros writes n zero bytes at off, where holes cannot be punched.
func (d *Disk) writeZeros(off, n int64) error {
	zeros := make([]byte, min(n, 1<<20))
	for n > 0 {
		k := min(n, int64(len(zeros)))
		if _, err := d.f.WriteAt(zeros[:k], off); err != nil {
			return err
		}
		off, n = off+k, n-k
	}
	return nil
}
