package tape

import "io"

// ReadRecord reads the record at the position into p and moves past it,
// returning the record's length. A record longer than p fills p and
// returns *RecordLengthError (the position still moves past the record).
// At a filemark it returns ErrFilemark with the position after the mark
// (on its end-of-tape side, as SSC READ does); at end of data,
// ErrEndOfData without moving.
func (m *Medium) ReadRecord(p []byte) (int, error) {
	f, err := m.current()
	if err != nil {
		return 0, err
	}
	if f.mark {
		m.pos = f.after()
		return 0, ErrFilemark
	}
	n := min(f.n, len(p))
	if err := m.readPayload(&f, p[:n]); err != nil {
		return 0, err
	}
	m.pos = f.after()
	if n < f.n {
		return n, &RecordLengthError{Len: f.n}
	}
	return n, nil
}

// current returns the frame at the position, or ErrEndOfData.
func (m *Medium) current() (frame, error) {
	if m.closed {
		return frame{}, ErrClosed
	}
	if m.pos.off >= m.end.off {
		if err := m.refresh(); err != nil {
			return frame{}, err
		}
		if m.pos.off >= m.end.off {
			return frame{}, ErrEndOfData
		}
	}
	return m.frameHere(m.pos)
}

// frameHere reads the frame at cursor c and checks it records c.
func (m *Medium) frameHere(c cursor) (frame, error) {
	b := m.peek[:]
	if m.peekOff != c.off {
		if _, err := m.f.ReadAt(m.hdr[:], c.off); err != nil {
			return frame{}, readErr(err)
		}
		b = m.hdr[:]
	}
	f, ok := decodeFrameHeader(b, c.off)
	if !ok || !sameCursor(&f.at, &c) || c.off+f.size() > m.end.off {
		return frame{}, ErrCorrupt
	}
	return f, nil
}

// readPayload reads the first len(p) bytes of record f and checks its
// trailer. When p is the whole record, one preadv also fetches the next
// frame's header, so a stream of reads costs one system call per record.
func (m *Medium) readPayload(f *frame, p []byte) error {
	data := f.payload()
	tail := m.tail[:]
	if len(p) < f.n {
		if _, err := m.f.ReadAt(p, data); err != nil {
			return readErr(err)
		}
		data += int64(f.n)
		p = nil
		tail = m.tail[:frameTrailerLen]
	}
	got, err := m.readv(data, p, tail)
	if err != nil {
		return err
	}
	m.peekOff = -1
	if got < len(p)+frameTrailerLen || !trailerMatches(tail, f) {
		return ErrCorrupt
	}
	if got == len(p)+len(tail) && len(tail) > frameTrailerLen {
		copy(m.peek[:], tail[frameTrailerLen:])
		m.peekOff = f.at.off + f.size()
	}
	return nil
}

// readErr maps a short read of recorded data to ErrCorrupt.
func readErr(err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return ErrCorrupt
	}
	return err
}
