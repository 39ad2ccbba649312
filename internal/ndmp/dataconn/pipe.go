package dataconn

import (
	"io"
	"sync"
)

// DefaultPipeBuffer is the capacity of each direction of a Pipe made by a Link:
// two 256 KiB records, so one side can fill a record while the other drains one.
const DefaultPipeBuffer = 512 << 10

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
	if r.n == 0 {
		r.start = 0 // keeps later copies in one segment
	}
	r.writable.Signal()
	return k, nil
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
