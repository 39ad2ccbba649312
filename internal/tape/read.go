package tape

import (
	"errors"
	"fmt"
	"hash/crc32"
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
	if e.hasSum {
		if err := m.checkSum(p[:n], &e); err != nil {
			return 0, err
		}
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

// checkSum checks a record's payload against its entry's CRC; head is
// what the caller read of it (the rest, for a short buffer, is read here).
// A mismatch is a *ChecksumError: the position stays before the record, so
// a reader can space over it.
func (m *Medium) checkSum(head []byte, e *entry) error {
	sum := crc32.Checksum(head, castagno)
	if rest := e.n - len(head); rest > 0 {
		buf := make([]byte, min(rest, 1<<20))
		for off := e.off + int64(len(head)); rest > 0; {
			k := min(rest, len(buf))
			if _, err := m.c.ReadAt(buf[:k], off); err != nil {
				if errors.Is(err, io.EOF) {
					return ErrCorrupt
				}
				return err
			}
			sum = crc32.Update(sum, castagno, buf[:k])
			off, rest = off+int64(k), rest-k
		}
	}
	if sum != e.sum {
		return &ChecksumError{Barcode: m.meta.barcode, Block: e.obj, File: e.file, Record: e.rec}
	}
	return nil
}
