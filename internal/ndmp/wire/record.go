package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// DefaultMaxRecord is the default limit on one reassembled record: large
// enough for a 4 MiB TAPE_WRITE or TAPE_READ reply plus header and slack.
const DefaultMaxRecord = 4<<20 + 64<<10

const (
	lastFragment = 1 << 31
	fragmentMask = lastFragment - 1
	// growStep bounds how much buffer one read may add before bytes arrive,
	// so a peer announcing a large fragment and then stalling costs little.
	growStep = 64 << 10
)

// ErrRecordTooLarge is matched (errors.Is) by the *TooLargeError that
// RecordReader.Next returns for a record over the reader's limit.
var ErrRecordTooLarge = errors.New("wire: record exceeds size limit")

// TooLargeError reports a record over the RecordReader's limit. The reader
// has discarded the record and stays usable; Head holds its first bytes (up
// to HeaderSize) so that a server can still decode the header and reply
// with an error.
type TooLargeError struct {
	Size int64  // bytes in the record
	Max  int    // the reader's limit
	Head []byte // first bytes of the record; valid until the next Next
}

// Error implements the error interface.
func (e *TooLargeError) Error() string {
	return fmt.Sprintf("wire: record of %d bytes exceeds limit %d", e.Size, e.Max)
}

// Is makes errors.Is(err, ErrRecordTooLarge) true.
func (e *TooLargeError) Is(target error) bool { return target == ErrRecordTooLarge }

// RecordReader reads ONC RPC record-marked records (RFC 1831 §10) from a
// stream: each record is one or more fragments, each preceded by a 4-byte
// mark whose top bit flags the last fragment and whose low 31 bits give
// the fragment length. One NDMP message is one record.
//
// Next reassembles a record into one buffer that is reused by the following
// call. A record over the limit is skipped, never buffered. Errors of the
// stream itself (EOF, a failed read) are sticky.
type RecordReader struct {
	r    io.Reader
	max  int
	buf  []byte
	mark [4]byte // a field, not a local, so reading it does not allocate
	err  error
}

// NewRecordReader returns a reader of records of at most max bytes from r;
// max <= 0 selects DefaultMaxRecord.
func NewRecordReader(r io.Reader, max int) *RecordReader {
	if max <= 0 {
		max = DefaultMaxRecord
	}
	return &RecordReader{r: r, max: max}
}

// Next returns the next whole record. The slice is valid until the next
// call. At a clean end of stream between records it returns io.EOF; a
// stream that ends inside a record gives io.ErrUnexpectedEOF. A record over
// the limit yields a *TooLargeError, after which Next can be called again.
func (r *RecordReader) Next() ([]byte, error) {
	if r.err != nil {
		return nil, r.err
	}
	rec, err := r.next()
	if err != nil && !errors.Is(err, ErrRecordTooLarge) {
		r.err = err
	}
	return rec, err
}

func (r *RecordReader) next() ([]byte, error) {
	r.buf = r.buf[:0]
	for first := true; ; first = false {
		last, n, err := r.readMark(first)
		if err != nil {
			return nil, err
		}
		if n > r.max-len(r.buf) {
			return nil, r.skip(last, n)
		}
		if err := r.readFragment(n); err != nil {
			return nil, err
		}
		if last {
			return r.buf, nil
		}
	}
}

// readMark reads one fragment mark.
func (r *RecordReader) readMark(first bool) (last bool, n int, err error) {
	if _, err := io.ReadFull(r.r, r.mark[:]); err != nil {
		if err == io.EOF && !first {
			err = io.ErrUnexpectedEOF
		}
		return false, 0, err
	}
	m := binary.BigEndian.Uint32(r.mark[:])
	return m&lastFragment != 0, int(m & fragmentMask), nil
}

// skip discards the rest of an oversized record, whose current fragment
// has n unread bytes, keeping its first HeaderSize bytes in r.buf.
func (r *RecordReader) skip(last bool, n int) error {
	size := int64(len(r.buf))
	for {
		keep := max(0, min(n, HeaderSize-len(r.buf)))
		if err := r.readFragment(keep); err != nil {
			return err
		}
		if err := r.discard(int64(n - keep)); err != nil {
			return err
		}
		size += int64(n)
		if last {
			head := r.buf[:min(len(r.buf), HeaderSize)]
			return &TooLargeError{Size: size, Max: r.max, Head: head}
		}
		var err error
		if last, n, err = r.readMark(false); err != nil {
			return err
		}
	}
}

// discard reads and drops n bytes without buffering them.
func (r *RecordReader) discard(n int64) error {
	got, err := io.CopyN(io.Discard, r.r, n)
	if got < n && (err == nil || err == io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// readFragment appends n bytes from the stream to r.buf, growing the
// buffer only as fast as data arrives.
func (r *RecordReader) readFragment(n int) error {
	for n > 0 {
		step := min(n, max(growStep, len(r.buf)))
		start := len(r.buf)
		if cap(r.buf)-start < step {
			grown := make([]byte, start, start+step+cap(r.buf)/2)
			copy(grown, r.buf)
			r.buf = grown
		}
		r.buf = r.buf[:start+step]
		if _, err := io.ReadFull(r.r, r.buf[start:]); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
		n -= step
	}
	return nil
}

// AppendMessage appends one whole record to b: a single-fragment mark,
// the header and the body encoded for version v. A nil body appends the
// header only (requests and replies without a body, and replies carrying
// a header error).
func AppendMessage(b []byte, h Header, body Body, v Version) []byte {
	start := len(b)
	b = append(b, 0, 0, 0, 0)
	b = h.AppendXDR(b)
	if body != nil {
		b = body.AppendXDR(b, v)
	}
	n := uint32(len(b) - start - 4)
	binary.BigEndian.PutUint32(b[start:], lastFragment|n)
	return b
}
