package tape

import (
	"bytes"
	"errors"
	"io"
)

// findEnd sets m.end from the header page's slots and the entries written
// after them, and m.damage if the file lacks data the synced slot says
// was written. The slot with the most objects that still verifies is
// trusted and only later entries are read, so opening costs the same on a
// full 100 GiB cartridge as on a blank one.
func (m *Medium) findEnd(page []byte) error {
	for range 3 {
		size, err := m.c.Size()
		if err != nil {
			return err
		}
		m.size, m.pageOff = size, -1
		m.end, m.lastSeg = m.bestSlot(page, m.geo.start(), 0)
		m.scanTail()
		m.damage = m.lostData(page)
		if m.damage == nil || !m.ro {
			return nil // a writer holds the lock: nothing moves under it
		}
		// A reader takes no lock, and a writer cutting the tape moves the
		// slots back before it truncates: the page read before the stat
		// may be older than the size. The verdict stands if nothing moved.
		var again [hintSlot + slotLen]byte
		if _, err := m.c.ReadAt(again[:], 0); err != nil {
			return err
		}
		size, err = m.c.Size()
		if err != nil {
			return err
		}
		if size == m.size && bytes.Equal(again[syncedSlot:], page[syncedSlot:hintSlot+slotLen]) {
			return nil
		}
		copy(page, again[:])
	}
	// Still moving: a writer is at work, and it checked the cartridge
	// when it opened.
	m.damage = nil
	return nil
}

// lostData returns the damage if the synced slot, which is written only
// after the data it describes is on disk, claims more objects than the
// file holds: the file was cut or its index damaged after the fact.
func (m *Medium) lostData(page []byte) *DamageError {
	objs, seg, ok := decodeSlot(page[syncedSlot:])
	if !ok || objs <= m.end.obj {
		return nil
	}
	d := &DamageError{Barcode: m.meta.barcode, End: m.EndOfData(), Claimed: objs, ClaimedFiles: -1}
	if seg >= m.geo.firstSeg() && seg&(m.geo.align-1) == 0 {
		if e, err := m.readEntry(seg+int64((objs-1)%m.geo.perSeg)*entryLen, objs-1); err == nil {
			d.ClaimedFiles = int64(e.marks())
		}
	}
	return d
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
	if err != nil || e.off < seg+m.geo.indexLen() || !m.payloadPresent(&e, seg) {
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
		if err != nil || !e.matches(&c) || !m.payloadPresent(&e, c.seg) {
			return
		}
		m.lastSeg = c.seg
		m.end = m.geo.after(c, &e)
	}
}

// payloadPresent reports whether e's payload, and so every payload
// before it, lies within the file; seg is the start of e's segment. An
// empty record or a filemark has no payload, but its offset is where the
// payload before it ended: a file cut short of that lost data. Only at the
// start of a data area may it lie past the file's end (the entry, read
// from the index block, already proves the earlier segments are there).
func (m *Medium) payloadPresent(e *entry, seg int64) bool {
	if e.n == 0 && e.off == seg+m.geo.indexLen() {
		return true
	}
	return e.off+int64(e.n) <= m.size
}

// readEntry reads the entry of object obj at file offset off, through a
// one-page cache so that sequential reads cost one read per 64 entries.
func (m *Medium) readEntry(off int64, obj uint64) (entry, error) {
	po := off &^ (pageLen - 1)
	if po != m.pageOff {
		n, err := m.c.ReadAt(m.page[:], po)
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
	size, err := m.c.Size()
	if err != nil {
		return err
	}
	// Entries land inside the file (the index block precedes the data), so
	// an unchanged size does not mean nothing was written.
	m.size = size
	m.pageOff = -1 // entries past the old end may have been written since
	var page [hintSlot + slotLen]byte
	if _, err := m.c.ReadAt(page[:], 0); err == nil {
		m.end, m.lastSeg = m.bestSlot(page[:], m.end, m.lastSeg)
	}
	m.scanTail()
	return nil
}
