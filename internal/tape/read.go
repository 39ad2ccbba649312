package tape

import (
	"errors"
	"fmt"
	"io"
)

// ReadRecord reads the record at the position into p and moves past it,
// returning the record's length. A record longer than p fills p and
// returns *RecordLengthError (the position still moves past the record).
// At a filemark it returns ErrFilemark with the position after the mark
// (on its end-of-tape side, as SSC READ does); at end of data,
// ErrEndOfData without moving.
func (m *Medium) ReadRecord(p []byte) (int, error) {
	e, err := m.current()
	if err != nil {
		return 0, err
	}
	next := m.geo.after(m.pos, &e)
	if e.mark {
		m.pos = next
		return 0, ErrFilemark
	}
	n := min(e.n, len(p))
	if _, err := m.c.ReadAt(p[:n], e.off); err != nil {
		if errors.Is(err, io.EOF) {
			return 0, ErrCorrupt
		}
		return 0, err
	}
	m.pos = next
	if n < e.n {
		return n, &RecordLengthError{Len: e.n}
	}
	return n, nil
}

// current returns the entry at the position, or ErrEndOfData.
func (m *Medium) current() (entry, error) {
	if m.closed {
		return entry{}, ErrClosed
	}
	if m.pos.obj >= m.end.obj {
		if err := m.refresh(); err != nil {
			return entry{}, err
		}
		if m.pos.obj >= m.end.obj {
			return entry{}, m.endErr()
		}
	}
	e, err := m.readEntry(m.geo.entryOff(&m.pos), m.pos.obj)
	if err == nil && !e.matches(&m.pos) {
		err = ErrCorrupt
	}
	if err != nil {
		// The position stays: spacing and locating work around one bad
		// entry, so a reader can skip to the next tape file.
		return entry{}, fmt.Errorf("%w (tape file %d, record %d)", m.corrupt(m.pos.obj, err), m.pos.file, m.pos.rec)
	}
	return e, nil
}

// endErr is the error of reading or spacing into the end of data:
// ErrEndOfData, or on a damaged cartridge its *DamageError, since the data
// there was lost rather than never written.
func (m *Medium) endErr() error {
	if m.damage != nil {
		return m.damage
	}
	return ErrEndOfData
}
