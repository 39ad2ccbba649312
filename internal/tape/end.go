package tape

import (
	"errors"
	"io"
)

// findEnd sets m.end from the header page's slots and the frames after
// them. The slot with the furthest end that still verifies is trusted, and
// only the frames written after it are read, so opening costs the same on
// a full 100 GiB cartridge as on a blank one.
func (m *Medium) findEnd(page []byte) error {
	fi, err := m.f.Stat()
	if err != nil {
		return err
	}
	m.size = fi.Size()
	start := startCursor()
	var best int64 = -1
	for _, off := range []int{syncedSlotOff, hintSlotOff} {
		so, obj, ok := decodeSlot(page[off:])
		if !ok || so <= best {
			continue
		}
		if c, ok := m.cursorAtEnd(so, obj); ok {
			start, best = c, so
		}
	}
	m.end = m.scanTail(start)
	return nil
}

// cursorAtEnd returns the cursor just past the frame that ends at off,
// which must hold object obj-1; ok is false if it does not verify.
func (m *Medium) cursorAtEnd(off int64, obj uint64) (cursor, bool) {
	if off == pageLen && obj == 0 {
		return startCursor(), true
	}
	if off > m.size || off < pageLen+FrameOverhead || obj == 0 {
		return cursor{}, false
	}
	fo, t, ok := m.frameEndingAt(off)
	if !ok {
		return cursor{}, false
	}
	f, err := m.frameAt(fo)
	if err != nil || f.at.obj != obj-1 || !trailerMatches(t[:], &f) || f.after().off != off {
		return cursor{}, false
	}
	return f.after(), true
}

// frameEndingAt reads the trailer that ends at off and returns the offset
// where its frame starts, with the trailer for the caller to match.
func (m *Medium) frameEndingAt(off int64) (int64, [frameTrailerLen]byte, bool) {
	var t [frameTrailerLen]byte
	if off < pageLen+FrameOverhead {
		return 0, t, false
	}
	if _, err := m.f.ReadAt(t[:], off-frameTrailerLen); err != nil {
		return 0, t, false
	}
	n, pad, ok := decodeTrailer(t[:])
	start := off - FrameOverhead - int64(n+pad)
	return start, t, ok && start >= pageLen
}

// frameAt reads and decodes the frame header at off without knowing what
// it should record; callers check the fields they know.
func (m *Medium) frameAt(off int64) (frame, error) {
	var b [frameHeaderLen]byte
	if _, err := m.f.ReadAt(b[:], off); err != nil {
		if errors.Is(err, io.EOF) {
			return frame{}, ErrCorrupt
		}
		return frame{}, err
	}
	f, ok := decodeFrameHeader(b[:], off)
	if !ok {
		return frame{}, ErrCorrupt
	}
	return f, nil
}

// scanTail follows complete, verified frames from c to the end of the
// file and returns the cursor after the last one. A torn or foreign frame
// ends the data.
func (m *Medium) scanTail(c cursor) cursor {
	for c.off+FrameOverhead <= m.size {
		f, err := m.frameAt(c.off)
		if err != nil || !sameCursor(&f.at, &c) || c.off+f.size() > m.size {
			break
		}
		var t [frameTrailerLen]byte
		if _, err := m.f.ReadAt(t[:], c.off+f.size()-frameTrailerLen); err != nil || !trailerMatches(t[:], &f) {
			break
		}
		c = f.after()
	}
	return c
}

// refresh lets a read-only medium see data a concurrent writer appended
// since the open. It only ever extends the end of data; a writer that
// erased what this reader saw makes later reads fail with ErrCorrupt.
func (m *Medium) refresh() error {
	if !m.ro {
		return nil
	}
	fi, err := m.f.Stat()
	if err != nil {
		return err
	}
	if fi.Size() == m.size {
		return nil
	}
	if fi.Size() < m.end.off {
		return ErrCorrupt
	}
	m.size = fi.Size()
	var page [hintSlotOff + slotLen]byte
	start := m.end
	if _, err := m.f.ReadAt(page[:], 0); err == nil {
		for _, off := range []int{syncedSlotOff, hintSlotOff} {
			so, obj, ok := decodeSlot(page[off:])
			if ok && so > start.off {
				if c, ok := m.cursorAtEnd(so, obj); ok {
					start = c
				}
			}
		}
	}
	m.end = m.scanTail(start)
	// The filemark and checkpoint lists were built up to the old end.
	m.marksOK, m.cpsOK = false, false
	return nil
}
