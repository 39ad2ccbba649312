package tape

import (
	"errors"
	"io"
)

// findEnd sets m.end from the header page's slots and the entries written
// after them. The slot with the most objects that still verifies is
// trusted and only later entries are read, so opening costs the same on a
// full 100 GiB cartridge as on a blank one.
func (m *Medium) findEnd(page []byte) error {
	fi, err := m.f.Stat()
	if err != nil {
		return err
	}
	m.size = fi.Size()
	m.end, m.lastSeg = m.bestSlot(page, m.geo.start(), 0)
	m.scanTail()
	return nil
}

// bestSlot returns the end cursor of the slot with the most objects that
// verifies, if it is past c; else c and its lastSeg.
func (m *Medium) bestSlot(page []byte, c cursor, lastSeg int64) (cursor, int64) {
	for _, off := range []int{syncedSlot, hintSlot} {
		objs, seg, ok := decodeSlot(page[off:])
		if !ok || objs <= c.obj {
			continue
		}
		if e, ok := m.cursorAtEnd(objs, seg); ok {
			c, lastSeg = e, seg
		}
	}
	return c, lastSeg
}

// cursorAtEnd returns the cursor after object objs-1, whose entry is in
// the segment starting at seg; ok is false if that entry does not verify.
func (m *Medium) cursorAtEnd(objs uint64, seg int64) (cursor, bool) {
	o := objs - 1
	if seg < m.geo.firstSeg() || seg&(m.geo.align-1) != 0 {
		return cursor{}, false
	}
	e, err := m.readEntry(seg+int64(o%m.geo.perSeg)*entryLen, o)
	if err != nil || e.off < seg+m.geo.indexLen() || !m.payloadPresent(&e) {
		return cursor{}, false
	}
	return m.geo.after(e.cursor(seg), &e), true
}

// scanTail follows complete, consistent entries from m.end and moves the
// end of data past them. An entry that is missing, torn or does not follow
// from the one before ends the data.
func (m *Medium) scanTail() {
	for {
		c := m.end
		eo := m.geo.entryOff(&c)
		if eo+entryLen > m.size {
			return
		}
		e, err := m.readEntry(eo, c.obj)
		if err != nil || !e.matches(&c) || !m.payloadPresent(&e) {
			return
		}
		m.lastSeg = c.seg
		m.end = m.geo.after(c, &e)
	}
}

// payloadPresent reports whether e's payload lies within the file; an
// empty record or a filemark has none.
func (m *Medium) payloadPresent(e *entry) bool {
	return e.n == 0 || e.off+int64(e.n) <= m.size
}

// readEntry reads the entry of object obj at file offset off, through a
// one-page cache so that sequential reads cost one read per 64 entries.
func (m *Medium) readEntry(off int64, obj uint64) (entry, error) {
	po := off &^ (pageLen - 1)
	if po != m.pageOff {
		n, err := m.f.ReadAt(m.page[:], po)
		if err != nil && !errors.Is(err, io.EOF) {
			m.pageOff = -1
			return entry{}, err
		}
		m.pageOff, m.pageN = po, n
	}
	i := int(off - po)
	if i+entryLen > m.pageN {
		return entry{}, ErrCorrupt
	}
	e, ok := decodeEntry(m.page[i:i+entryLen], obj)
	if !ok {
		return entry{}, ErrCorrupt
	}
	return e, nil
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
	// Entries land inside the file (the index block precedes the data), so
	// an unchanged size does not mean nothing was written.
	m.size = fi.Size()
	m.pageOff = -1 // entries past the old end may have been written since
	var page [hintSlot + slotLen]byte
	if _, err := m.f.ReadAt(page[:], 0); err == nil {
		m.end, m.lastSeg = m.bestSlot(page[:], m.end, m.lastSeg)
	}
	m.scanTail()
	return nil
}
