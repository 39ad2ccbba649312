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

// ErrRecordTooLarge is returned by RecordReader.Next when a record would
// exceed the reader's limit. The stream cannot be resynchronised after it.
var ErrRecordTooLarge = errors.New("wire: record exceeds size limit")

// RecordReader reads ONC RPC record-marked records (RFC 1831 §10) from a
// stream: each record is one or more fragments, each preceded by a 4-byte
// mark whose top bit flags the last fragment and whose low 31 bits give
// the fragment length. One NDMP message is one record.
//
// Next reassembles a record into one buffer that is reused by the following
// call. Errors are sticky.
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
// stream that ends inside a record gives io.ErrUnexpectedEOF.
func (r *RecordReader) Next() ([]byte, error) {
	if r.err != nil {
		return nil, r.err
	}
	rec, err := r.next()
	if err != nil {
		r.err = err
		return nil, err
	}
	return rec, nil
}

func (r *RecordReader) next() ([]byte, error) {
	r.buf = r.buf[:0]
	for first := true; ; first = false {
		if _, err := io.ReadFull(r.r, r.mark[:]); err != nil {
			if err == io.EOF && !first {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		m := binary.BigEndian.Uint32(r.mark[:])
		n := int(m & fragmentMask)
		if n > r.max-len(r.buf) {
			return nil, fmt.Errorf("%w: %d bytes and more, limit %d", ErrRecordTooLarge, len(r.buf)+n, r.max)
		}
		if err := r.readFragment(n); err != nil {
			return nil, err
		}
		if m&lastFragment != 0 {
			return r.buf, nil
		}
	}
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
