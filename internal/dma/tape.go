package dma

import (
	"context"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"ferry/internal/ndmp/client"
	"ferry/internal/ndmp/wire"
	"ferry/internal/volume"
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
func writeHeader(ctx context.Context, c *client.Conn, h volume.Header) error {
	if _, err := c.TapeWrite(ctx, h.Encode()); err != nil {
		return fmt.Errorf("dma: write image header: %w", err)
	}
	if _, err := c.TapeMtio(ctx, wire.MtioEOF, 1); err != nil {
		return fmt.Errorf("dma: write image header: %w", err)
	}
	return nil
}

// writeTrailer writes t as one record and a filemark after an image.
func writeTrailer(ctx context.Context, c *client.Conn, t volume.Trailer) error {
	if _, err := c.TapeWrite(ctx, t.Encode()); err != nil {
		return fmt.Errorf("dma: write image trailer: %w", err)
	}
	if _, err := c.TapeMtio(ctx, wire.MtioEOF, 1); err != nil {
		return fmt.Errorf("dma: write image trailer: %w", err)
	}
	return nil
}

// ReadHeader reads the header record at the tape's position, leaving the
// tape at the start of the next file (the image).
func ReadHeader(ctx context.Context, c *client.Conn) (volume.Header, error) {
	buf := make([]byte, volume.MaxRecord+1)
	n, err := c.TapeRead(ctx, buf)
	if err != nil {
		return volume.Header{}, fmt.Errorf("dma: read image header: %w", err)
	}
	h, err := volume.DecodeHeader(buf[:n])
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

// readAhead is the number of records a tapeReader reads ahead of its
// consumer, so TAPE_READ round trips overlap with extraction.
const readAhead = 8

// tapeReader reads one tape file record by record through TAPE_READ,
// ending at its filemark (or the end of data). A goroutine of its own reads
// ahead; Close stops it before the connection is used for anything else.
type tapeReader struct {
	recs chan []byte
	free chan []byte
	stop chan struct{}
	done chan struct{}
	err  error // set before recs is closed
	buf  []byte
	cur  []byte
	n    atomic.Int64 // bytes consumed, for progress
}

func newTapeReader(ctx context.Context, c *client.Conn, recordSize int) *tapeReader {
	return newTapeReaderAhead(ctx, c, recordSize, readAhead)
}

// newTapeReaderAhead is newTapeReader reading at most ahead records ahead.
func newTapeReaderAhead(ctx context.Context, c *client.Conn, recordSize, ahead int) *tapeReader {
	r := &tapeReader{
		recs: make(chan []byte, ahead),
		free: make(chan []byte, ahead+2),
		stop: make(chan struct{}),
		done: make(chan struct{}),
	}
	size := max(recordSize, 256<<10)
	for range ahead + 2 {
		r.free <- make([]byte, size)
	}
	go r.fill(ctx, c)
	return r
}

// fill reads records until the filemark, an error or Close.
func (r *tapeReader) fill(ctx context.Context, c *client.Conn) {
	defer close(r.done)
	defer close(r.recs)
	for {
		var buf []byte
		select {
		case buf = <-r.free:
		case <-r.stop:
			return
		}
		n, err := c.TapeRead(ctx, buf[:cap(buf)])
		if client.IsNDMP(err, wire.ErrEOF) || client.IsNDMP(err, wire.ErrEOM) {
			return
		}
		if err != nil {
			r.err = fmt.Errorf("dma: tape read: %w", err)
			return
		}
		select {
		case r.recs <- buf[:n]:
		case <-r.stop:
			return
		}
	}
}

// Read implements io.Reader.
func (r *tapeReader) Read(p []byte) (int, error) {
	for len(r.cur) == 0 {
		if r.buf != nil {
			r.free <- r.buf
			r.buf = nil
		}
		b, ok := <-r.recs
		if !ok {
			if r.err != nil {
				return 0, r.err
			}
			return 0, io.EOF
		}
		r.buf, r.cur = b, b
	}
	n := copy(p, r.cur)
	r.cur = r.cur[n:]
	r.n.Add(int64(n))
	return n, nil
}

// Close stops reading ahead and waits for the reader goroutine.
func (r *tapeReader) Close() {
	close(r.stop)
	<-r.done
}

// refusal puts the agent's reason before a request it refused (a
// DATA_START_* for a path outside its exports: the reply is only
// ILLEGAL_ARGS, the LOG_MESSAGE before it says why). Unlike withCause the
// messages stay in p for the job's log.
func refusal(err error, p *posts) error {
	if p == nil {
		return err
	}
	if cause := p.waitError(); cause != "" {
		return fmt.Errorf("%s: %w", cause, err)
	}
	return err
}
