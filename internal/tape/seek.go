package tape

import (
	"errors"
	"fmt"
)

// segStart returns the start of segment s, which must hold objects
// below the end of data (or be the end's own segment). Segment starts
// are learned once, one entry read per segment, and kept.
func (m *Medium) segStart(s uint64) (int64, error) {
	if s == m.end.obj/m.geo.perSeg {
		return m.end.seg, nil
	}
	if s == m.pos.obj/m.geo.perSeg {
		return m.pos.seg, nil
	}
	if len(m.segs) == 0 {
		m.segs = append(m.segs, m.geo.firstSeg())
	}
	for uint64(len(m.segs)) <= s {
		i := uint64(len(m.segs))
		last := i*m.geo.perSeg - 1
		if last >= m.end.obj {
			return 0, ErrCorrupt
		}
		prev := m.segs[i-1]
		e, err := m.readEntry(prev+int64(m.geo.perSeg-1)*entryLen, last)
		if err != nil {
			return 0, err
		}
		next := roundUp(e.off+int64(e.n), m.geo.align)
		if next <= prev {
			return 0, ErrCorrupt
		}
		m.segs = append(m.segs, next)
	}
	return m.segs[s], nil
}

// entryOf reads the entry of object o (below the end of data).
func (m *Medium) entryOf(o uint64) (entry, int64, error) {
	seg, err := m.segStart(o / m.geo.perSeg)
	if err != nil {
		return entry{}, 0, err
	}
	e, err := m.readEntry(seg+int64(o%m.geo.perSeg)*entryLen, o)
	return e, seg, err
}

// moveTo sets the position to object o (at most the end of data).
func (m *Medium) moveTo(o uint64) error {
	switch o {
	case m.pos.obj:
		return nil
	case m.end.obj:
		m.pos = m.end
		return nil
	case 0:
		m.pos = m.geo.start()
		return nil
	}
	c, err := m.cursorAt(o)
	if err != nil {
		return err
	}
	m.pos = c
	return nil
}

// cursorAt returns the cursor at object o (0 < o < end of data). A
// damaged entry is worked out from the one before it (its object ends
// where o begins), so one bad entry does not hide the objects around it.
func (m *Medium) cursorAt(o uint64) (cursor, error) {
	e, seg, err := m.entryOf(o)
	if err == nil {
		return e.cursor(seg), nil
	}
	p, pseg, perr := m.entryOf(o - 1)
	if perr != nil {
		return cursor{}, m.corrupt(o, err)
	}
	return m.geo.after(p.cursor(pseg), &p), nil
}

// marksThrough returns the number of filemarks at or before object o
// (below the end of data). A damaged entry is worked out from the next
// one, whose file number counts them.
func (m *Medium) marksThrough(o uint64) (uint64, error) {
	e, _, err := m.entryOf(o)
	if err == nil {
		return e.marks(), nil
	}
	if o+1 == m.end.obj {
		return m.end.file, nil
	}
	n, _, nerr := m.entryOf(o + 1)
	if nerr != nil {
		return 0, m.corrupt(o, err)
	}
	return n.file, nil
}

// corrupt is the error for object o's entry that does not verify.
func (m *Medium) corrupt(o uint64, err error) error {
	if !errors.Is(err, ErrCorrupt) {
		return err
	}
	return fmt.Errorf("%w: cartridge %s: index entry of block %d", ErrCorrupt, m.meta.barcode, o)
}

// firstMark returns the smallest object o in [lo, hi) with at least want
// filemarks at or before it, or hi if there is none. Filemark counts grow
// with the object number, so this is a binary search: a few entry reads
// however long the tape.
func (m *Medium) firstMark(lo, hi, want uint64) (uint64, error) {
	for lo < hi {
		mid := lo + (hi-lo)/2
		marks, err := m.marksThrough(mid)
		if err != nil {
			return 0, err
		}
		if marks >= want {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo, nil
}
