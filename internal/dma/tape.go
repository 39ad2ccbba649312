package dma

import (
	"context"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"ferry/internal/ndmp/client"
	"ferry/internal/ndmp/wire"
)

// cleanupTimeout bounds the requests that leave an agent idle after a job
// failed or was cancelled (the job's context may be done by then).
const cleanupTimeout = 20 * time.Second

// appendPosition moves an open, writable tape to its end of data and
// returns the tape file number a new file starts at. A file left without a
// closing filemark (a job killed mid-image) gets one first, so what follows
// never runs into it and every earlier file stays readable.
func appendPosition(ctx context.Context, c *client.Conn) (int, error) {
	if _, err := c.TapeMtio(ctx, wire.MtioREW, 1); err != nil {
		return 0, fmt.Errorf("dma: rewind: %w", err)
	}
	const all = 1 << 30
	resid, err := c.TapeMtio(ctx, wire.MtioFSF, all)
	if err != nil {
		return 0, fmt.Errorf("dma: space to end of data: %w", err)
	}
	file := int(all - resid)
	// Records after the last filemark: a partial file to close.
	st, err := c.TapeGetState(ctx)
	if err != nil {
		return 0, fmt.Errorf("dma: tape state: %w", err)
	}
	if st.Unsupported&wire.TapeStateBlocknoUnsupported == 0 && st.Blockno > 0 {
		if _, err := c.TapeMtio(ctx, wire.MtioFSR, all); err != nil {
			return 0, fmt.Errorf("dma: space to end of data: %w", err)
		}
		if _, err := c.TapeMtio(ctx, wire.MtioEOF, 1); err != nil {
			return 0, fmt.Errorf("dma: close the partial file at the end of the tape: %w", err)
		}
		file++
	}
	return file, nil
}

// writeHeader writes h as one record and a filemark: a tape file of its own.
func writeHeader(ctx context.Context, c *client.Conn, h Header) error {
	if _, err := c.TapeWrite(ctx, h.Encode()); err != nil {
		return fmt.Errorf("dma: write image header: %w", err)
	}
	if _, err := c.TapeMtio(ctx, wire.MtioEOF, 1); err != nil {
		return fmt.Errorf("dma: write image header: %w", err)
	}
	return nil
}

// ReadHeader reads the header record at the tape's position, leaving the
// tape at the start of the next file (the image).
func ReadHeader(ctx context.Context, c *client.Conn) (Header, error) {
	buf := make([]byte, maxHeader+1)
	n, err := c.TapeRead(ctx, buf)
	if err != nil {
		return Header{}, fmt.Errorf("dma: read image header: %w", err)
	}
	h, err := DecodeHeader(buf[:n])
	if err != nil {
		return h, err
	}
	if _, err := c.TapeMtio(ctx, wire.MtioFSF, 1); err != nil {
		return h, fmt.Errorf("dma: space past image header: %w", err)
	}
	return h, nil
}

// seekFile rewinds and spaces forward to the start of tape file n.
func seekFile(ctx context.Context, c *client.Conn, n int) error {
	if _, err := c.TapeMtio(ctx, wire.MtioREW, 1); err != nil {
		return fmt.Errorf("dma: rewind: %w", err)
	}
	if n == 0 {
		return nil
	}
	resid, err := c.TapeMtio(ctx, wire.MtioFSF, uint32(n))
	if err != nil {
		return fmt.Errorf("dma: space to tape file %d: %w", n, err)
	}
	if resid != 0 {
		return fmt.Errorf("dma: tape ends before file %d (%d files on it): wrong cartridge?", n, n-int(resid))
	}
	return nil
}

// tapeReader reads one tape file record by record through TAPE_READ,
// ending at its filemark (or the end of data).
type tapeReader struct {
	ctx  context.Context
	c    *client.Conn
	buf  []byte
	rec  []byte
	done bool
	n    atomic.Int64 // bytes read, for progress
}

func newTapeReader(ctx context.Context, c *client.Conn, recordSize int) *tapeReader {
	return &tapeReader{ctx: ctx, c: c, buf: make([]byte, max(recordSize, 256<<10))}
}

// Read implements io.Reader.
func (r *tapeReader) Read(p []byte) (int, error) {
	for len(r.rec) == 0 {
		if r.done {
			return 0, io.EOF
		}
		n, err := r.c.TapeRead(r.ctx, r.buf)
		if client.IsNDMP(err, wire.ErrEOF) || client.IsNDMP(err, wire.ErrEOM) {
			r.done = true
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("dma: tape read: %w", err)
		}
		r.rec = r.buf[:n]
	}
	n := copy(p, r.rec)
	r.rec = r.rec[n:]
	r.n.Add(int64(n))
	return n, nil
}
