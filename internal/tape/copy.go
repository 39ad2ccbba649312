package tape

import (
	"context"
	"errors"
	"io"
)

// firstCopyBuf is WriteFileTo's first buffer; it grows to the longest
// record met.
const firstCopyBuf = 256 << 10

// WriteFileTo streams the records from the position to the end of the
// current tape file to w, one Write per record, and returns the bytes
// written. It stops after crossing the filemark that ends the file, or at
// end of data; neither is an error. ctx is checked between records.
func (m *Medium) WriteFileTo(ctx context.Context, w io.Writer) (int64, error) {
	buf := make([]byte, firstCopyBuf)
	var total int64
	for {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		n, err := m.ReadRecord(buf)
		var rl *RecordLengthError
		switch {
		case errors.As(err, &rl):
			// Read the record again with a buffer that holds it.
			buf = make([]byte, rl.Len)
			if _, err := m.SpaceRecords(-1); err != nil {
				return total, err
			}
			continue
		case errors.Is(err, ErrFilemark), errors.Is(err, ErrEndOfData):
			return total, nil
		case err != nil:
			return total, err
		}
		wn, err := w.Write(buf[:n])
		total += int64(wn)
		if err != nil {
			return total, err
		}
	}
}
