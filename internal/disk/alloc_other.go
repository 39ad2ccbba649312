//go:build !linux

package disk

import "os"

// Extent reports every byte as allocated: without SEEK_DATA/SEEK_HOLE
// the image's holes cannot be seen.
func (d *Disk) Extent(off, limit int64) (mapped bool, n int64, err error) {
	if err := d.bounds(off, limit); err != nil {
		return false, 0, err
	}
	return true, limit, nil
}

// Deallocate writes zeros over n bytes at off.
func (d *Disk) Deallocate(off, n int64) error {
	if err := d.bounds(off, n); err != nil {
		return err
	}
	if t := d.trk; t != nil {
		t.gate.RLock()
		defer t.gate.RUnlock()
		t.beforeWrite(off, n)
	} else if d.guestRO {
		return ErrBusy
	}
	return d.writeZeros(off, n)
}

// preallocate does nothing where fallocate is missing.
func preallocate(*os.File, int64) error { return nil }

// fileExtent reports every byte as allocated.
func fileExtent(_ *os.File, _ int, _, limit int64) (bool, int64, error) { return true, limit, nil }
