package tape

// Rewind moves to beginning of tape.
func (m *Medium) Rewind() error {
	if m.closed {
		return ErrClosed
	}
	m.pos = m.geo.start()
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
			return m.endErr()
		}
		return nil
	}
	return m.moveTo(block)
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
	hi := m.pos.obj + min(n, m.end.obj-m.pos.obj)
	mark, err := m.firstMark(m.pos.obj, hi, m.pos.file+1)
	if err != nil {
		return 0, err
	}
	done := mark - m.pos.obj
	if err := m.moveTo(mark); err != nil {
		return 0, err
	}
	switch {
	case mark < hi:
		return int(done), ErrFilemark
	case done < n:
		return int(done), m.endErr()
	}
	return int(done), nil
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
	if n > 0 {
		return m.spaceMarksForward(uint64(n))
	}
	return m.spaceMarksBack(uint64(-int64(n)))
}

// spaceMarksForward crosses up to n filemarks toward end of tape.
func (m *Medium) spaceMarksForward(n uint64) (int, error) {
	avail := m.end.file - m.pos.file
	if n > avail {
		m.pos = m.end
		return int(avail), m.endErr()
	}
	o, err := m.firstMark(m.pos.obj, m.end.obj, m.pos.file+n)
	if err != nil {
		return 0, err
	}
	if err := m.moveTo(o + 1); err != nil {
		return 0, err
	}
	return int(n), nil
}

// spaceMarksBack crosses up to n filemarks toward beginning of tape.
func (m *Medium) spaceMarksBack(n uint64) (int, error) {
	if n > m.pos.file {
		done := m.pos.file
		m.pos = m.geo.start()
		return int(done), ErrBeginningOfMedium
	}
	o, err := m.firstMark(0, m.pos.obj, m.pos.file-n+1)
	if err != nil {
		return 0, err
	}
	if err := m.moveTo(o); err != nil {
		return 0, err
	}
	return int(n), nil
}
