package tape

import (
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"syscall"
)

// WriteRecord writes p as one record at the position, erasing everything
// after it, and moves past it. A zero-length record is allowed. If the
// record does not fit before the physical end, nothing is written and the
// error is ErrEndOfMedium. Data reaches the page cache, not the disk:
// WriteFilemarks and Close make it durable.
func (m *Medium) WriteRecord(p []byte) error {
	if len(p) > MaxRecordLen {
		return ErrRecordTooLong
	}
	return m.writeObject(p, false)
}

// WriteFilemarks writes n filemarks at the position (erasing everything
// after it) and then makes all data written so far durable (fsync). n == 0
// only syncs, like SSC WRITE FILEMARKS with a zero count.
func (m *Medium) WriteFilemarks(n int) error {
	if n < 0 {
		return ErrInvalidArgument
	}
	if err := m.writable(); err != nil {
		return err
	}
	if int64(n)*FrameOverhead > m.Remaining() {
		return ErrEndOfMedium
	}
	for range n {
		if err := m.writeObject(nil, true); err != nil {
			return err
		}
	}
	return m.sync()
}

// Erase erases everything after the position, which becomes the end of
// data (SSC ERASE), durably.
func (m *Medium) Erase() error {
	if err := m.writable(); err != nil {
		return err
	}
	if m.worm() && m.pos != m.end {
		return ErrWORM
	}
	return m.erase()
}

// writable returns why the medium cannot be written, if it cannot.
func (m *Medium) writable() error {
	switch {
	case m.closed:
		return ErrClosed
	case m.meta.flags&flagWriteProtected != 0:
		return ErrWriteProtected
	case m.damage != nil:
		return m.damage
	case m.ro:
		return ErrReadOnly
	}
	return nil
}

// writeObject writes one record or filemark at the position: the payload
// first, then its entry, so an entry on disk always has its payload.
func (m *Medium) writeObject(p []byte, mark bool) error {
	if err := m.writable(); err != nil {
		return err
	}
	if int64(len(p))+FrameOverhead > m.Remaining() {
		return ErrEndOfMedium
	}
	if m.pos != m.end && m.worm() {
		return ErrWORM
	}
	if !m.clean || m.pos != m.end {
		if err := m.erase(); err != nil {
			return err
		}
	}
	e := entryAt(&m.pos, mark, len(p))
	if !mark && m.meta.version >= 2 {
		e.sum, e.hasSum = crc32.Checksum(p, castagno), true
	}
	encodeEntry(m.ebuf[:], &e)
	m.pageOff = -1
	if len(p) > 0 {
		if _, err := m.c.WriteAt(p, e.off); err != nil {
			m.clean = false
			return m.ioErr("write", err)
		}
	}
	if _, err := m.c.WriteAt(m.ebuf[:], m.geo.entryOff(&m.pos)); err != nil {
		m.clean = false
		return m.ioErr("write", err)
	}
	m.lastSeg = m.pos.seg
	m.pos = m.geo.after(m.pos, &e)
	m.end = m.pos
	m.dirty = true
	if m.end.used-m.hintAt >= hintEvery || m.end.obj%m.geo.perSeg == 0 {
		m.writeSlot(hintSlot)
	}
	return nil
}

// erase cuts the cartridge at the position: the slots are moved back to
// it, then the file is truncated after the position's payload offset and
// the stale entries of its segment are zeroed, durably, before anything
// new is written there. A writer does this once after opening, and again
// whenever it writes somewhere other than the end of data.
func (m *Medium) erase() error {
	c := m.pos
	if c.obj > 0 {
		seg, err := m.segStart((c.obj - 1) / m.geo.perSeg)
		if err != nil {
			return err
		}
		m.lastSeg = seg
	}
	// The slots go first: a synced slot never claims data the file does
	// not hold, or the next open would take the cartridge for damaged.
	// A crash before the cut only leaves the old data readable.
	m.end = c
	if err := m.sync(); err != nil {
		return err
	}
	if err := m.c.Truncate(c.data); err != nil {
		return m.ioErr("erase", err)
	}
	if err := m.zeroEntries(m.geo.entryOff(&c), c.seg+m.geo.indexLen()); err != nil {
		return err
	}
	m.size, m.pageOff = c.data, -1
	if n := c.obj/m.geo.perSeg + 1; uint64(len(m.segs)) > n {
		m.segs = m.segs[:n]
	}
	// The cut must be on disk before new entries land after it, or a
	// crash could leave stale entries that chain to them.
	if err := m.c.Sync(); err != nil {
		return m.ioErr("erase", err)
	}
	m.clean = true
	return nil
}

// zeroEntries clears the index entries in [from, to) if any are set.
func (m *Medium) zeroEntries(from, to int64) error {
	b := make([]byte, to-from)
	n, _ := m.c.ReadAt(b, from)
	if bytes.Count(b[:n], []byte{0}) == n {
		return nil
	}
	clear(b)
	if _, err := m.c.WriteAt(b[:n], from); err != nil {
		return m.ioErr("erase", err)
	}
	return nil
}

// sync makes the data durable and records the end of data in both slots.
func (m *Medium) sync() error {
	if err := m.c.Sync(); err != nil {
		return m.ioErr("sync", err)
	}
	if err := m.writeSlot(syncedSlot); err != nil {
		return err
	}
	if err := m.writeSlot(hintSlot); err != nil {
		return err
	}
	if err := m.c.Sync(); err != nil {
		return m.ioErr("sync", err)
	}
	m.dirty = false
	return nil
}

// writeSlot records the current end of data in the slot at off.
func (m *Medium) writeSlot(off int64) error {
	encodeSlot(m.slot[:], m.end.obj, m.lastSeg)
	if _, err := m.c.WriteAt(m.slot[:], off); err != nil {
		return m.ioErr("header", err)
	}
	if off == hintSlot {
		m.hintAt = m.end.used
	}
	return nil
}

// ioErr wraps an error of the cartridge file; a full file system becomes
// a *NoSpaceError naming the cartridge.
func (m *Medium) ioErr(op string, err error) error {
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return &NoSpaceError{Path: m.c.Name(), Err: err}
	}
	return fmt.Errorf("tape: %s: %w", op, err)
}

// worm reports whether the cartridge is write-once.
func (m *Medium) worm() bool { return m.meta.flags&flagWORM != 0 }
