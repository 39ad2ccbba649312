package tape

// Rewind moves to beginning of tape.
func (m *Medium) Rewind() error {
	if m.closed {
		return ErrClosed
	}
	m.pos = startCursor()
	return nil
}

// SpaceToEndOfData moves to the end of recorded data.
func (m *Medium) SpaceToEndOfData() error {
	if m.closed {
		return ErrClosed
	}
	if err := m.refresh(); err != nil {
		return err
	}
	m.pos = m.end
	return nil
}

// Locate moves to logical object number block (records and filemarks each
// count one; 0 is beginning of tape), like SSC LOCATE. A block past the
// end of data leaves the position at end of data with ErrEndOfData.
func (m *Medium) Locate(block uint64) error {
	if m.closed {
		return ErrClosed
	}
	if block >= m.end.obj {
		if err := m.refresh(); err != nil {
			return err
		}
	}
	if block >= m.end.obj {
		m.pos = m.end
		if block > m.end.obj {
			return ErrEndOfData
		}
		return nil
	}
	c, err := m.seek(block)
	if err != nil {
		return err
	}
	m.pos = c
	return nil
}

// SpaceRecords moves over n records, forward for n > 0 and backward for
// n < 0, and returns how many it crossed. It never crosses a filemark: it
// stops next to it (before it going forward, after it going backward)
// with ErrFilemark. It stops at end of data with ErrEndOfData and at
// beginning of tape with ErrBeginningOfMedium. The residual is |n| - done.
func (m *Medium) SpaceRecords(n int) (int, error) {
	if m.closed {
		return 0, ErrClosed
	}
	if n >= 0 {
		return m.spaceRecordsForward(uint64(n))
	}
	return m.spaceRecordsBack(uint64(-int64(n)))
}

// spaceRecordsForward moves over up to n records toward end of tape.
func (m *Medium) spaceRecordsForward(n uint64) (int, error) {
	if n == 0 {
		return 0, nil
	}
	if err := m.refresh(); err != nil {
		return 0, err
	}
	limit, stop, err := m.nextMark()
	if err != nil {
		return 0, err
	}
	done := min(n, limit-m.pos.obj)
	if err := m.moveTo(m.pos.obj + done); err != nil {
		return 0, err
	}
	if done < n {
		return int(done), stop
	}
	return int(done), nil
}

// nextMark returns the object number of the first filemark at or after the
// position (ErrFilemark) or, if there is none, of end of data
// (ErrEndOfData). It reads ahead a few frames before it falls back on the
// filemark list.
func (m *Medium) nextMark() (uint64, error, error) {
	c := m.pos
	for range backStepMax {
		if c.off >= m.end.off {
			return c.obj, ErrEndOfData, nil
		}
		f, err := m.frameHere(c)
		if err != nil {
			return 0, nil, err
		}
		if f.mark {
			return c.obj, ErrFilemark, nil
		}
		c = f.after()
	}
	if err := m.loadMarks(); err != nil {
		return 0, nil, err
	}
	if m.pos.file < uint64(len(m.marks)) {
		return m.marks[m.pos.file].obj, ErrFilemark, nil
	}
	return m.end.obj, ErrEndOfData, nil
}

// spaceRecordsBack moves over up to n records toward beginning of tape.
// The records back to the last filemark are known from the position.
func (m *Medium) spaceRecordsBack(n uint64) (int, error) {
	done := min(n, m.pos.rec)
	if err := m.moveTo(m.pos.obj - done); err != nil {
		return 0, err
	}
	switch {
	case done == n:
		return int(done), nil
	case m.pos.file > 0:
		return int(done), ErrFilemark
	}
	return int(done), ErrBeginningOfMedium
}

// moveTo sets the position to object obj (at most the end of data).
func (m *Medium) moveTo(obj uint64) error {
	if obj == m.pos.obj {
		return nil
	}
	if obj == m.end.obj {
		m.pos = m.end
		return nil
	}
	c, err := m.seek(obj)
	if err != nil {
		return err
	}
	m.pos = c
	return nil
}

// SpaceFilemarks moves over n filemarks, forward for n > 0 and backward
// for n < 0, and returns how many it crossed. Forward it ends just after
// the last mark crossed (end-of-tape side); backward just before it
// (beginning-of-tape side), as SSC SPACE and NDMP FSF/BSF do. It stops at
// end of data with ErrEndOfData and at beginning of tape with
// ErrBeginningOfMedium.
func (m *Medium) SpaceFilemarks(n int) (int, error) {
	if m.closed {
		return 0, ErrClosed
	}
	if n == 0 {
		return 0, nil
	}
	if n > 0 {
		if err := m.refresh(); err != nil {
			return 0, err
		}
	}
	if err := m.loadMarks(); err != nil {
		return 0, err
	}
	if n > 0 {
		return m.spaceMarksForward(uint64(n))
	}
	return m.spaceMarksBack(uint64(-int64(n)))
}

// spaceMarksForward crosses up to n filemarks toward end of tape.
func (m *Medium) spaceMarksForward(n uint64) (int, error) {
	avail := uint64(len(m.marks)) - min(m.pos.file, uint64(len(m.marks)))
	if n > avail {
		m.pos = m.end
		return int(avail), ErrEndOfData
	}
	f, err := m.markFrame(m.pos.file + n - 1)
	if err != nil {
		return 0, err
	}
	m.pos = f.after()
	return int(n), nil
}

// spaceMarksBack crosses up to n filemarks toward beginning of tape.
func (m *Medium) spaceMarksBack(n uint64) (int, error) {
	avail := min(m.pos.file, uint64(len(m.marks)))
	if n > avail {
		m.pos = startCursor()
		return int(avail), ErrBeginningOfMedium
	}
	f, err := m.markFrame(m.pos.file - n)
	if err != nil {
		return 0, err
	}
	m.pos = f.at
	return int(n), nil
}

// markFrame reads filemark i.
func (m *Medium) markFrame(i uint64) (frame, error) {
	f, err := m.frameAt(m.marks[i].off)
	if err != nil || !f.mark || f.at.file != i {
		return frame{}, ErrCorrupt
	}
	return f, nil
}
