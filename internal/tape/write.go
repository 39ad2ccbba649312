package tape

import (
	"fmt"
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
	return m.writeFrame(p, false)
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
		if err := m.writeFrame(nil, true); err != nil {
			return err
		}
	}
	return m.sync()
}

// writable returns why the medium cannot be written, if it cannot.
func (m *Medium) writable() error {
	switch {
	case m.closed:
		return ErrClosed
	case m.meta.flags&flagWriteProtected != 0:
		return ErrWriteProtected
	case m.ro:
		return ErrReadOnly
	}
	return nil
}

// writeFrame appends one frame at the position after erasing what follows.
func (m *Medium) writeFrame(p []byte, mark bool) error {
	if err := m.writable(); err != nil {
		return err
	}
	f := frame{at: m.pos, mark: mark, n: len(p), pad: padFor(m.pos.off, len(p))}
	if f.size() > m.Remaining() {
		return ErrEndOfMedium
	}
	if m.size != m.pos.off {
		if err := m.erase(); err != nil {
			return err
		}
	}
	m.peekOff = -1
	encodeFrameHeader(m.whdr[:], &f)
	encodeFrameTrailer(m.tail[:frameTrailerLen], &f)
	if err := m.writev(m.pos.off, m.whdr[:frameHeaderLen+f.pad], p, m.tail[:frameTrailerLen]); err != nil {
		// The frame may be partly written; the file's end no longer
		// matches m.size, so the next write erases it first.
		m.size = -1
		return fmt.Errorf("tape: write: %w", err)
	}
	m.appended(&f)
	return nil
}

// appended moves the position and the end of data past a frame just
// written and keeps the filemark and checkpoint lists current.
func (m *Medium) appended(f *frame) {
	if m.marksOK && f.mark {
		m.marks = append(m.marks, markEntry{off: f.at.off, obj: f.at.obj})
	}
	if m.cpsOK && f.at.obj%checkpointEvery == 0 {
		m.cps = append(m.cps, f.at.off)
	}
	m.pos = f.after()
	m.end = m.pos
	m.size = m.pos.off
	m.dirty = true
	if m.end.off-m.hintOff >= hintEvery || f.at.obj%checkpointEvery == 0 {
		m.writeSlot(hintSlotOff)
	}
}

// erase cuts the cartridge at the position: everything after it is gone,
// durably, before anything new is written there.
func (m *Medium) erase() error {
	if err := m.f.Truncate(m.pos.off); err != nil {
		return fmt.Errorf("tape: erase: %w", err)
	}
	m.size = m.pos.off
	m.end = m.pos
	m.peekOff = -1
	if m.marksOK {
		m.marks = m.marks[:min(uint64(len(m.marks)), m.pos.file)]
	}
	if m.cpsOK {
		m.cps = m.cps[:min(uint64(len(m.cps)), (m.pos.obj+checkpointEvery-1)/checkpointEvery)]
	}
	// Both slots must stop pointing past the cut before new frames land
	// there, or a crash could leave a slot that verifies against them.
	return m.sync()
}

// sync makes the data durable and records the end of data in both slots.
func (m *Medium) sync() error {
	if err := syscall.Fdatasync(m.fd); err != nil {
		return fmt.Errorf("tape: sync: %w", err)
	}
	if err := m.writeSlot(syncedSlotOff); err != nil {
		return err
	}
	if err := m.writeSlot(hintSlotOff); err != nil {
		return err
	}
	if err := syscall.Fdatasync(m.fd); err != nil {
		return fmt.Errorf("tape: sync: %w", err)
	}
	m.dirty = false
	return nil
}

// writeSlot records the current end of data in the slot at off.
func (m *Medium) writeSlot(off int64) error {
	encodeSlot(m.slot[:], m.end.off, m.end.obj)
	if _, err := m.f.WriteAt(m.slot[:], off); err != nil {
		return fmt.Errorf("tape: header: %w", err)
	}
	if off == syncedSlotOff {
		m.syncedOff = m.end.off
	} else {
		m.hintOff = m.end.off
	}
	return nil
}
