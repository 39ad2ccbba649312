package tape

import "slices"

// loadMarks builds the list of every filemark by following the chain of
// back links from the end of data: one header read per filemark, once per
// open.
func (m *Medium) loadMarks() error {
	if m.marksOK {
		return nil
	}
	var list []markEntry
	next, file := m.end.prevFM, m.end.file
	for next != noLink {
		f, err := m.frameAt(next)
		if err != nil || !f.mark || file == 0 || f.at.file != file-1 || next >= m.end.off {
			return ErrCorrupt
		}
		file--
		list = append(list, markEntry{off: next, obj: f.at.obj})
		next = f.at.prevFM
	}
	if file != 0 {
		return ErrCorrupt
	}
	slices.Reverse(list)
	m.marks, m.marksOK = list, true
	return nil
}

// loadCheckpoints builds the list of checkpoint frames (every
// checkpointEvery-th object) from their chain of back links.
func (m *Medium) loadCheckpoints() error {
	if m.cpsOK {
		return nil
	}
	var list []int64
	next, n := m.end.prevCP, (m.end.obj+checkpointEvery-1)/checkpointEvery
	for next != noLink {
		f, err := m.frameAt(next)
		if err != nil || n == 0 || f.at.obj != (n-1)*checkpointEvery || next >= m.end.off {
			return ErrCorrupt
		}
		n--
		list = append(list, next)
		next = f.at.prevCP
	}
	if n != 0 {
		return ErrCorrupt
	}
	slices.Reverse(list)
	m.cps, m.cpsOK = list, true
	return nil
}

// seek returns the cursor of object target, which must be below the end
// of data. It starts from the nearest point it knows (the position, a
// checkpoint, beginning of tape), so it reads at most a few thousand frame
// headers however long the tape is.
func (m *Medium) seek(target uint64) (cursor, error) {
	if target < m.pos.obj && m.pos.obj-target <= backStepMax {
		return m.stepBack(m.pos, m.pos.obj-target)
	}
	c := startCursor()
	if target >= m.pos.obj {
		c = m.pos
	}
	if target-c.obj > checkpointEvery/4 {
		if err := m.loadCheckpoints(); err != nil {
			return cursor{}, err
		}
		if cp, err := m.checkpoint(target / checkpointEvery); err != nil {
			return cursor{}, err
		} else if cp.obj > c.obj {
			c = cp
		}
	}
	return m.scanTo(c, target)
}

// backStepMax is how far seek walks backward through trailers before it
// prefers a checkpoint.
const backStepMax = 64

// checkpoint returns the cursor of checkpoint i.
func (m *Medium) checkpoint(i uint64) (cursor, error) {
	if i >= uint64(len(m.cps)) {
		return startCursor(), nil
	}
	f, err := m.frameAt(m.cps[i])
	if err != nil || f.at.obj != i*checkpointEvery {
		return cursor{}, ErrCorrupt
	}
	return f.at, nil
}

// scanTo walks frame headers forward from c to object target.
func (m *Medium) scanTo(c cursor, target uint64) (cursor, error) {
	for c.obj < target {
		f, err := m.frameHere(c)
		if err != nil {
			return cursor{}, err
		}
		c = f.after()
	}
	return c, nil
}

// stepBack walks n objects backward from c through the frame trailers.
func (m *Medium) stepBack(c cursor, n uint64) (cursor, error) {
	for ; n > 0; n-- {
		if c.obj == 0 {
			return cursor{}, ErrCorrupt
		}
		start, t, ok := m.frameEndingAt(c.off)
		if !ok {
			return cursor{}, ErrCorrupt
		}
		f, err := m.frameAt(start)
		if err != nil || !trailerMatches(t[:], &f) || f.after() != c {
			return cursor{}, ErrCorrupt
		}
		c = f.at
	}
	return c, nil
}
