package disk

import "fmt"

// SnapshotImage reads one snapshot: the disk's image at the time the
// snapshot was taken. It satisfies the SCSI block command set's backend
// as a read-only disk (writes fail with ErrReadOnly). Reads fail once
// the snapshot is invalid, released or past its lease, and a read that
// raced with the end of the snapshot fails rather than return what it
// read.
type SnapshotImage struct {
	d      *Disk
	t      *tracker
	s      *snap
	serial string
	naa    []byte
}

// OpenSnapshot returns the image of the active snapshot name. It lives
// as long as the disk stays open.
func (d *Disk) OpenSnapshot(name string) (*SnapshotImage, error) {
	t, err := d.tracking()
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	s, err := t.find(name)
	if err != nil {
		return nil, err
	}
	if err := t.usable(s); err != nil {
		return nil, err
	}
	return &SnapshotImage{d: d, t: t, s: s, serial: d.meta.Name + "@" + name}, nil
}

// SetIdentity gives the image the unit serial number and 8-byte NAA
// designator a target serves it under (the target keeps them).
func (im *SnapshotImage) SetIdentity(serial string, naa []byte) {
	im.serial, im.naa = serial, naa
}

// Snapshot describes the snapshot as it was when opened.
func (im *SnapshotImage) Snapshot() Snapshot {
	return im.s.get()
}

// Err says why the snapshot no longer reads, or nil.
func (im *SnapshotImage) Err() error { return im.t.usable(im.s) }

func (im *SnapshotImage) Name() string   { return im.serial }
func (im *SnapshotImage) NAA() []byte    { return im.naa }
func (im *SnapshotImage) BlockSize() int { return im.d.BlockSize() }
func (im *SnapshotImage) Blocks() uint64 { return im.d.Blocks() }
func (im *SnapshotImage) Thin() bool     { return im.d.Thin() }
func (im *SnapshotImage) ReadOnly() bool { return true }
func (im *SnapshotImage) Sync() error    { return nil }

func (im *SnapshotImage) String() string {
	return fmt.Sprintf("snapshot %s of %v", im.s.info.Name, im.d)
}

// WriteAt fails: a snapshot is read-only.
func (im *SnapshotImage) WriteAt([]byte, int64) (int, error) { return 0, ErrReadOnly }

// Deallocate fails: a snapshot is read-only.
func (im *SnapshotImage) Deallocate(int64, int64) error { return ErrReadOnly }

// ReadAt reads the snapshot's bytes at off: preserved chunks from the
// copy-on-write area, the others from the live image. A chunk found
// unpreserved is checked again after the live read: a write that
// preserved it meanwhile may have changed what was read, and the
// preserved copy is then the right one.
func (im *SnapshotImage) ReadAt(p []byte, off int64) (int, error) {
	if err := im.d.bounds(off, int64(len(p))); err != nil {
		return 0, err
	}
	if err := im.t.usable(im.s); err != nil {
		return 0, err
	}
	s := im.s
	for done := 0; done < len(p); {
		at := off + int64(done)
		pres := s.preserved.has(uint64(at) / chunkSize)
		n := im.run(at, len(p)-done, pres)
		q := p[done : done+n]
		if pres {
			if err := readFull(s.cow, q, at); err != nil {
				return im.failed(done, err)
			}
		} else {
			if _, err := im.d.ReadAt(q, at); err != nil {
				return im.failed(done, err)
			}
			if err := im.recheck(q, at); err != nil {
				return im.failed(done, err)
			}
		}
		done += n
	}
	if err := im.t.usable(s); err != nil {
		return 0, err
	}
	return len(p), nil
}

// run is how many bytes from at, at most max, lie in chunks whose
// preserved state is pres.
func (im *SnapshotImage) run(at int64, max int, pres bool) int {
	n := 0
	for n < max {
		c := uint64(at+int64(n)) / chunkSize
		if im.s.preserved.has(c) != pres {
			break
		}
		n += int(min(int64(max-n), int64(c+1)*chunkSize-(at+int64(n))))
	}
	return n
}

// recheck rereads from the copy-on-write area the parts of q (read live
// at at) whose chunks were preserved meanwhile.
func (im *SnapshotImage) recheck(q []byte, at int64) error {
	for i := 0; i < len(q); {
		c := uint64(at+int64(i)) / chunkSize
		k := int(min(int64(len(q)-i), int64(c+1)*chunkSize-(at+int64(i))))
		if im.s.preserved.has(c) {
			if err := readFull(im.s.cow, q[i:i+k], at+int64(i)); err != nil {
				return err
			}
		}
		i += k
	}
	return nil
}

// failed reports a read error, or the snapshot's end when that caused it
// (its area closed under the read).
func (im *SnapshotImage) failed(_ int, err error) (int, error) {
	return 0, im.failure(err)
}

func (im *SnapshotImage) failure(err error) error {
	if end := im.t.usable(im.s); end != nil {
		return end
	}
	return fmt.Errorf("disk: reading snapshot %s: %w", im.s.info.Name, err)
}

// Extent reports the snapshot's allocation from off: a preserved chunk
// is allocated when its copy holds data (a preserved chunk of zeros is
// not), the others as the live image says.
func (im *SnapshotImage) Extent(off, limit int64) (mapped bool, n int64, err error) {
	if err := im.d.bounds(off, limit); err != nil {
		return false, 0, err
	}
	if err := im.t.usable(im.s); err != nil {
		return false, 0, err
	}
	if limit == 0 {
		return true, 0, nil
	}
	// Runs of preserved and live chunks alternate; neighbours of one
	// state join, so a reader sees one extent where the image has one.
	mapped, n, err = im.extentRun(off, limit)
	for err == nil && n < limit {
		m, k, e := im.extentRun(off+n, limit-n)
		if e != nil || m != mapped {
			break
		}
		n += k
	}
	return mapped, n, err
}

// extentRun is Extent within one run of chunks of one preserved state.
func (im *SnapshotImage) extentRun(off, limit int64) (mapped bool, n int64, err error) {
	pres := im.s.preserved.has(uint64(off) / chunkSize)
	r := int64(im.run(off, int(min(limit, 1<<30)), pres))
	if !pres {
		return im.d.Extent(off, r)
	}
	if !im.d.meta.Thin {
		return true, r, nil
	}
	mapped, n, err = fileExtent(im.s.cow, int(im.s.cow.Fd()), off, r)
	if err != nil {
		return false, 0, im.failure(err)
	}
	return mapped, n, nil
}
