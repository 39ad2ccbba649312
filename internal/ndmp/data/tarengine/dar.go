package tarengine

import (
	"io"
)

// requester is the recovery side of a data connection: a stream to read and
// the means to ask for a stretch of it (data.Recovery).
type requester interface {
	io.Reader
	Request(offset, length uint64) error
}

// DAR request sizes: the first request at a new position is small (a header
// and a small file fit), later ones double, so reading one entry costs at
// most about twice its size.
// A partial sequential restore keeps requests at 1 MiB: asking far past the
// end of the stream would run the mover into the filemark, after which
// NDMJOB closes the connection and the restore could not go back for a
// hard link's data.
const (
	darFirst = 64 << 10
	darMax   = 8 << 20
	seqMax   = 1 << 20
)

// demandReader reads a recovery stream at chosen offsets, asking for bytes
// only as they are needed (direct access recovery). Every requested byte is
// read before the next request, so the stream stays in step with the mover.
type demandReader struct {
	src   requester
	pos   int64 // stream offset of the next byte Read returns
	left  int64 // requested bytes not yet read
	chunk int64
	max   int64 // largest request
	read  int64 // bytes read from the connection in all
	err   error
}

func newDemandReader(src requester, max int64) *demandReader {
	return &demandReader{src: src, chunk: darFirst, max: max}
}

// seek moves to stream offset off: what is still in flight is drained first.
func (d *demandReader) seek(off int64) error {
	if d.err != nil {
		return d.err
	}
	if off == d.pos && d.left > 0 {
		return nil
	}
	if err := d.drain(); err != nil {
		return err
	}
	d.pos, d.chunk = off, darFirst
	return nil
}

func (d *demandReader) drain() error {
	if d.left == 0 {
		return nil
	}
	n, err := io.CopyN(io.Discard, struct{ io.Reader }{d.src}, d.left)
	d.read += n
	d.left -= n
	if err != nil {
		d.err = err
	}
	return d.err
}

func (d *demandReader) Read(p []byte) (int, error) {
	if d.err != nil {
		return 0, d.err
	}
	if d.left == 0 {
		if err := d.src.Request(uint64(d.pos), uint64(d.chunk)); err != nil {
			d.err = err
			return 0, err
		}
		d.left = d.chunk
		d.chunk = min(2*d.chunk, d.max)
	}
	if int64(len(p)) > d.left {
		p = p[:d.left]
	}
	n, err := d.src.Read(p)
	d.pos += int64(n)
	d.left -= int64(n)
	d.read += int64(n)
	if err != nil {
		d.err = err
	}
	return n, err
}

// countingReader counts the bytes of a sequential recovery.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
