package dataconn

import (
	"errors"
	"io"
	"sync"
)

// DefaultPipeBuffer is the capacity of each direction of a Pipe made by a Link:
// four 256 KiB records, so the writer can fill one while the mover writes
// another to tape and neither waits on the other's every step.
const DefaultPipeBuffer = 1 << 20

// grantMax bounds a Grant: a writer that filled the whole ring before
// committing would leave the reader idle until then.
const grantMax = 256 << 10

// ring is one direction of a pipe: a fixed byte ring guarded by a mutex, with one
// condition for readers (data arrived or closed) and one for writers (space freed
// or closed). It never allocates after creation.
type ring struct {
	mu       sync.Mutex
	readable sync.Cond
	writable sync.Cond
	buf      []byte
	start    int  // index of the first buffered byte
	n        int  // bytes buffered
	wclosed  bool // the writing end closed: readers drain, then io.EOF
	rclosed  bool // the reading end closed: writers get io.ErrClosedPipe
	granted  int  // bytes lent to the writer by Grant, not yet committed
}

func newRing(size int) *ring {
	r := &ring{buf: make([]byte, size)}
	r.readable.L = &r.mu
	r.writable.L = &r.mu
	return r
}

// write copies all of p into the ring, blocking while it is full.
func (r *ring) write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	done := 0
	for done < len(p) {
		for r.n == len(r.buf) && !r.rclosed && !r.wclosed {
			r.writable.Wait()
		}
		if r.rclosed || r.wclosed {
			return done, io.ErrClosedPipe
		}
		done += r.put(p[done:])
		r.readable.Signal()
	}
	return done, nil
}

// put copies as much of p as fits (in at most two segments) and returns the count.
func (r *ring) put(p []byte) int {
	end := (r.start + r.n) % len(r.buf)
	free := len(r.buf) - r.n
	k := min(len(p), free)
	first := min(k, len(r.buf)-end)
	copy(r.buf[end:end+first], p[:first])
	copy(r.buf, p[first:k])
	r.n += k
	return k
}

// read copies buffered bytes into p, blocking while the ring is empty and open.
func (r *ring) read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for r.n == 0 && !r.wclosed && !r.rclosed {
		r.readable.Wait()
	}
	if r.rclosed {
		return 0, io.ErrClosedPipe
	}
	if r.n == 0 {
		return 0, io.EOF
	}
	k := min(len(p), r.n)
	first := min(k, len(r.buf)-r.start)
	copy(p[:first], r.buf[r.start:r.start+first])
	copy(p[first:k], r.buf[:k-first])
	r.start = (r.start + k) % len(r.buf)
	r.n -= k
	if r.n == 0 && r.granted == 0 {
		r.start = 0 // keeps later copies in one segment
	}
	r.writable.Signal()
	return k, nil
}

// grant lends the writer the free bytes after the buffered ones, contiguous
// and at most grantMax, blocking while the ring is full.
func (r *ring) grant() ([]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for r.n == len(r.buf) && !r.rclosed && !r.wclosed {
		r.writable.Wait()
	}
	if r.rclosed || r.wclosed {
		return nil, io.ErrClosedPipe
	}
	end := (r.start + r.n) % len(r.buf)
	k := min(len(r.buf)-r.n, len(r.buf)-end, grantMax)
	r.granted = k
	return r.buf[end : end : end+k], nil
}

// commit makes the first n bytes of the last grant readable.
func (r *ring) commit(n int) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if n < 0 || n > r.granted {
		return ErrGrant
	}
	r.granted = 0
	if r.rclosed || r.wclosed {
		return io.ErrClosedPipe
	}
	r.n += n
	r.readable.Signal()
	return nil
}

// peek waits until len(scratch) bytes are buffered (or the writing end
// closed) and returns them: in place when they lie contiguous in the ring,
// else copied into scratch. A short final piece is copied into scratch
// and zero-padded. The bytes stay buffered until discard.
func (r *ring) peek(scratch []byte) ([]byte, int, error) {
	want := len(scratch)
	if want > len(r.buf) {
		return nil, 0, ErrPeekSize
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for r.n < want && !r.wclosed && !r.rclosed {
		r.readable.Wait()
	}
	if r.rclosed {
		return nil, 0, io.ErrClosedPipe
	}
	k := min(want, r.n)
	if k == 0 {
		return nil, 0, io.EOF
	}
	var err error
	if k < want {
		err = io.EOF // nothing follows this piece
	}
	if k == want && r.start+k <= len(r.buf) {
		return r.buf[r.start : r.start+k : r.start+k], k, err
	}
	first := min(k, len(r.buf)-r.start)
	copy(scratch, r.buf[r.start:r.start+first])
	copy(scratch[first:k], r.buf[:k-first])
	clear(scratch[k:])
	return scratch, k, err
}

// discard drops the first n buffered bytes (a peek's).
func (r *ring) discard(n int) {
	r.mu.Lock()
	n = min(n, r.n)
	r.start = (r.start + n) % len(r.buf)
	r.n -= n
	if r.n == 0 && r.granted == 0 {
		r.start = 0 // keeps later records in one segment
	}
	r.writable.Signal()
	r.mu.Unlock()
}

func (r *ring) closeWrite() {
	r.mu.Lock()
	r.wclosed = true
	r.mu.Unlock()
	r.readable.Broadcast()
	r.writable.Broadcast()
}

func (r *ring) closeRead() {
	r.mu.Lock()
	r.rclosed = true
	r.mu.Unlock()
	r.readable.Broadcast()
	r.writable.Broadcast()
}

// Conn is one end of an in-memory, full-duplex, back-pressured byte pipe: the
// NDMP_ADDR_LOCAL data connection. Write blocks while the peer's buffer is full;
// Read returns io.EOF once the peer has closed (or CloseWrite'd) and everything it
// wrote has been read. Read and Write do not allocate. A Conn is safe for one
// reader and one writer at a time, plus Close from any goroutine.
type Conn struct {
	in, out *ring
	once    sync.Once
}

// Pipe returns the two connected ends of a new pipe whose directions each buffer
// size bytes (DefaultPipeBuffer when size <= 0).
func Pipe(size int) (*Conn, *Conn) {
	if size <= 0 {
		size = DefaultPipeBuffer
	}
	ab, ba := newRing(size), newRing(size)
	return &Conn{in: ba, out: ab}, &Conn{in: ab, out: ba}
}

// Read reads what the peer wrote.
func (c *Conn) Read(p []byte) (int, error) { return c.in.read(p) }

// Write sends p to the peer, blocking until all of it is buffered.
func (c *Conn) Write(p []byte) (int, error) { return c.out.write(p) }

// ErrPeekSize reports a Peek larger than the pipe's buffer (PeekLimit).
var ErrPeekSize = errors.New("dataconn: peek larger than the pipe's buffer")

// PeekLimit is the largest Peek the pipe serves: its buffer's size.
func (c *Conn) PeekLimit() int { return len(c.in.buf) }

// ErrGrant reports a Commit of more bytes than the last Grant lent.
var ErrGrant = errors.New("dataconn: commit exceeds the grant")

// Grant lends the writer free space of the peer's buffer (len 0, cap at
// least 1) to fill in place of a Write's copy, blocking while the buffer is
// full. Commit hands over what was filled; until then the peer sees none of
// it, and no Write may come between the two.
func (c *Conn) Grant() ([]byte, error) { return c.out.grant() }

// Commit makes the first n bytes of the last Grant readable by the peer and
// returns the rest of the grant to the buffer.
func (c *Conn) Commit(n int) error { return c.out.commit(n) }

// Peek returns the next len(scratch) bytes the peer wrote, waiting for all
// of them unless the peer closed: in the pipe's own memory when they lie
// contiguous in it (no copy), else copied into scratch. n is how many are
// stream bytes; a short final piece comes in scratch, zero-padded to its
// length, with io.EOF, as does an empty one (n == 0). The bytes stay valid
// and buffered until Discard(n); no Read may come between the two.
func (c *Conn) Peek(scratch []byte) (rec []byte, n int, err error) { return c.in.peek(scratch) }

// Discard releases the n bytes the last Peek returned.
func (c *Conn) Discard(n int) { c.in.discard(n) }

// CloseWrite tells the peer no more data follows; reading stays possible.
func (c *Conn) CloseWrite() error {
	c.out.closeWrite()
	return nil
}

// Close closes both directions. The peer reads what is still buffered, then
// io.EOF; its writes fail with io.ErrClosedPipe. Close is idempotent.
func (c *Conn) Close() error {
	c.once.Do(func() {
		c.out.closeWrite()
		c.in.closeRead()
	})
	return nil
}
