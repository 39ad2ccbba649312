package s3store

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"ferry/internal/tape/store"
)

// cartridge is an open S3 cartridge. A reader serves the head from the
// head object it last fetched and the rest from ranged GETs (through a
// block cache with read-ahead). A writer keeps the head and a few chunks
// in memory, PUTs a chunk whole when it moves on (in the background, a
// bounded number at once), and at Sync PUTs what is left, then the head.
type cartridge struct {
	s       *Store
	barcode string
	name    string
	chunk   int64 // C: bytes per chunk object, fixed at Create
	closed  bool

	head  []byte // HeadLen bytes; zeros past size
	size  int64
	cache *blockCache

	// Writer only (lease != nil).
	lease    *lease
	bufs     map[int64]*chunkBuf // chunks held in memory
	tick     uint64              // use counter for bufs' LRU
	stored   map[int64]int64     // chunk objects in S3: index -> length
	doomed   map[int64]bool      // stored chunks to DELETE at the next Sync
	inflight map[int64]*upload   // chunks being PUT in the background
	sem      chan struct{}       // bounds the PUTs running at once
	upErr    error               // a background PUT failed: PUT in the foreground until a Sync succeeds
	free     [][]byte            // chunk buffers whose PUT is done, for reuse
	changed  bool                // written since the last head PUT
}

// chunkBuf is a chunk held by the writer: its bytes from the chunk's
// start (the object's body), zeros past len(data).
type chunkBuf struct {
	data  []byte
	dirty bool
	used  uint64
}

// upload is a chunk PUT running in the background.
type upload struct {
	data []byte
	done chan struct{}
	err  error
}

func newCartridge(s *Store, barcode string, h headObject, l *lease) *cartridge {
	c := &cartridge{
		s: s, barcode: barcode, name: s.url(barcode), chunk: h.chunk,
		head: h.head, size: h.size, lease: l,
	}
	ahead := s.cfg.ReadAhead
	if l != nil {
		ahead = 0 // a writer's chunks change under a read-ahead
	}
	c.cache = newBlockCache(c, s.cfg.ReadBlock, ahead)
	if l != nil {
		c.bufs = map[int64]*chunkBuf{}
		c.doomed = map[int64]bool{}
		c.inflight = map[int64]*upload{}
		c.sem = make(chan struct{}, s.cfg.Uploads)
	}
	return c
}

var _ store.Cartridge = (*cartridge)(nil)

func (c *cartridge) Name() string { return c.name }

// chunkStart is where chunk i begins in the byte space: chunk 0 right
// after the head, chunk i at i*C.
func (c *cartridge) chunkStart(i int64) int64 { return max(i*c.chunk, store.HeadLen) }

// chunkOf is the chunk holding byte off (off >= HeadLen).
func (c *cartridge) chunkOf(off int64) int64 { return off / c.chunk }

// cleanTail runs at a writable open: chunks a crashed writer PUT past the
// synced size are deleted, and the chunk holding the size is cut there,
// so that growing the cartridge again reads zeros, never their bytes.
func (c *cartridge) cleanTail() error {
	stored, err := c.s.listChunks(c.barcode)
	if err != nil {
		return err
	}
	c.stored = stored
	for i, n := range stored {
		start := c.chunkStart(i)
		switch {
		case start >= c.size:
			if err := c.s.delete(c.s.chunkKey(c.barcode, i), c.barcode); err != nil {
				return err
			}
			delete(c.stored, i)
		case start+n > c.size:
			b, err := c.load(i)
			if err != nil {
				return err
			}
			b.data = b.data[:c.size-start]
			if err := c.put(i, b.data); err != nil {
				return err
			}
			b.dirty = false
		}
	}
	return nil
}

func (c *cartridge) ReadAt(p []byte, off int64) (int, error) {
	if c.closed {
		return 0, store.ErrClosed
	}
	if off < 0 {
		return 0, fmt.Errorf("s3store: %s: negative offset", c.name)
	}
	if len(p) == 0 {
		return 0, nil // as a file does, even at its end
	}
	if c.lease == nil && off+int64(len(p)) > c.size {
		// A reader sees what was synced before the read: past the head
		// it holds, it fetches the head again.
		if _, err := c.Size(); err != nil {
			return 0, err
		}
	}
	if off >= c.size {
		return 0, io.EOF
	}
	n := int(min(int64(len(p)), c.size-off))
	done := 0
	if off < store.HeadLen {
		done = copy(p[:n], c.head[off:])
	}
	for done < n {
		at := off + int64(done)
		i := c.chunkOf(at)
		rel := at - c.chunkStart(i)
		k := int(min(int64(n-done), c.chunkStart(i+1)-at))
		if err := c.readChunk(i, p[done:done+k], rel); err != nil {
			return done, err
		}
		done += k
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// readChunk fills p with chunk i's bytes from rel on.
func (c *cartridge) readChunk(i int64, p []byte, rel int64) error {
	if c.lease != nil {
		if b := c.bufs[i]; b != nil {
			b.used = c.next()
			copyZero(p, b.data, rel)
			return nil
		}
		if u := c.inflight[i]; u != nil {
			copyZero(p, u.data, rel)
			return nil
		}
		if _, ok := c.stored[i]; !ok || c.doomed[i] {
			clear(p)
			return nil
		}
	}
	return c.cache.read(i, p, rel)
}

// copyZero copies src[rel:] into p, zeros where src ends.
func copyZero(p, src []byte, rel int64) {
	n := 0
	if rel < int64(len(src)) {
		n = copy(p, src[rel:])
	}
	clear(p[n:])
}

func (c *cartridge) next() uint64 { c.tick++; return c.tick }

func (c *cartridge) writable() error {
	if c.closed {
		return store.ErrClosed
	}
	if c.lease == nil {
		return store.ErrReadOnly
	}
	return c.lease.check()
}

func (c *cartridge) WriteAt(p []byte, off int64) (int, error) {
	if err := c.writable(); err != nil {
		return 0, err
	}
	if off < 0 {
		return 0, fmt.Errorf("s3store: %s: negative offset", c.name)
	}
	done := 0
	if off < store.HeadLen {
		done = copy(c.head[off:], p)
	}
	for done < len(p) {
		at := off + int64(done)
		i := c.chunkOf(at)
		rel := at - c.chunkStart(i)
		k := int(min(int64(len(p)-done), c.chunkStart(i+1)-at))
		b, err := c.forWrite(i)
		if err != nil {
			c.grow(at)
			return done, err
		}
		if end := rel + int64(k); end > int64(len(b.data)) {
			b.data = grow(b.data, end)
		}
		copy(b.data[rel:], p[done:done+k])
		b.dirty = true
		done += k
	}
	c.grow(off + int64(done))
	return done, nil
}

// grow moves the size to end if it lies past it.
func (c *cartridge) grow(end int64) {
	c.changed = true
	if end > c.size {
		c.size = end
	}
}

// grow extends b to n bytes (zeros), keeping its capacity for a chunk.
func grow(b []byte, n int64) []byte {
	if n <= int64(cap(b)) {
		old := len(b)
		b = b[:n]
		clear(b[old:])
		return b
	}
	nb := make([]byte, n, max(n, int64(2*cap(b))))
	copy(nb, b)
	return nb
}

// forWrite returns chunk i in memory, loading it if S3 holds it, after
// making room among the buffers.
func (c *cartridge) forWrite(i int64) (*chunkBuf, error) {
	if b := c.bufs[i]; b != nil {
		b.used = c.next()
		return b, nil
	}
	if err := c.makeRoom(); err != nil {
		return nil, err
	}
	b, err := c.load(i)
	if err != nil {
		return nil, err
	}
	b.used = c.next()
	return b, nil
}

// load brings chunk i into the buffers: from a running upload, from S3,
// or empty.
func (c *cartridge) load(i int64) (*chunkBuf, error) {
	if u := c.inflight[i]; u != nil {
		// Take its bytes back rather than GET them (or recycle them).
		<-u.done
		delete(c.inflight, i)
		if u.err == nil {
			c.stored[i] = int64(len(u.data))
		} else {
			c.upErr = u.err
		}
		b := &chunkBuf{data: u.data, dirty: u.err != nil}
		c.bufs[i] = b
		return b, nil
	}
	c.cache.dropChunk(i)
	b := &chunkBuf{data: c.newChunk(c.chunkStart(i+1) - c.chunkStart(i))}
	if c.doomed[i] {
		// A truncate cut its bytes: it starts from zeros. The object
		// stays in stored: until a PUT replaces it, a truncate must doom
		// it again.
		delete(c.doomed, i)
	} else if n, ok := c.stored[i]; ok && n > 0 {
		b.data = b.data[:min(n, int64(cap(b.data)))]
		got, err := c.s.getRange(c.barcode, c.s.chunkKey(c.barcode, i), b.data, 0)
		if err != nil {
			return nil, err
		}
		b.data = b.data[:got]
	}
	c.bufs[i] = b
	return b, nil
}

// newChunk returns an empty buffer for n bytes, reusing one whose PUT is
// done: a stream of chunks then costs no allocation (and no page faults)
// per chunk.
func (c *cartridge) newChunk(n int64) []byte {
	for len(c.free) > 0 {
		b := c.free[len(c.free)-1]
		c.free = c.free[:len(c.free)-1]
		if int64(cap(b)) >= n {
			return b[:0]
		}
	}
	return make([]byte, 0, n)
}

// reapDone reaps the uploads that have finished, without waiting.
func (c *cartridge) reapDone() {
	for i, u := range c.inflight {
		select {
		case <-u.done:
			c.reap(i, u)
		default:
		}
	}
}

// makeRoom evicts the least recently used buffer once Buffers are held:
// a dirty one is PUT (in the background while PUTs succeed).
func (c *cartridge) makeRoom() error {
	for len(c.bufs) >= c.s.cfg.Buffers {
		var victim int64 = -1
		var oldest uint64
		for i, b := range c.bufs {
			if victim < 0 || b.used < oldest {
				victim, oldest = i, b.used
			}
		}
		b := c.bufs[victim]
		if b.dirty {
			if c.upErr != nil {
				// S3 failed us before: PUT here, so that an outage
				// stops the writer instead of filling memory.
				if err := c.put(victim, b.data); err != nil {
					return err
				}
			} else {
				c.startUpload(victim, b.data)
			}
		}
		delete(c.bufs, victim)
	}
	return nil
}

// startUpload PUTs chunk i in the background, waiting for a free slot.
func (c *cartridge) startUpload(i int64, data []byte) {
	c.reapDone()
	c.sem <- struct{}{}
	u := &upload{data: data, done: make(chan struct{})}
	c.inflight[i] = u
	go func() {
		defer func() { <-c.sem }()
		defer close(u.done)
		u.err = c.s.putChunk(c.barcode, i, data)
	}()
}

// reap waits for chunk i's upload: on success S3 holds it; on failure its
// bytes go back to the buffers, dirty.
func (c *cartridge) reap(i int64, u *upload) {
	<-u.done
	delete(c.inflight, i)
	if u.err == nil {
		c.stored[i] = int64(len(u.data))
		if len(c.free) < c.s.cfg.Uploads+1 {
			c.free = append(c.free, u.data)
		}
		return
	}
	c.upErr = u.err
	c.bufs[i] = &chunkBuf{data: u.data, dirty: true, used: c.next()}
}

// reapAll waits for every upload.
func (c *cartridge) reapAll() {
	for i, u := range c.inflight {
		c.reap(i, u)
	}
}

// put PUTs chunk i in the foreground.
func (c *cartridge) put(i int64, data []byte) error {
	if err := c.s.putChunk(c.barcode, i, data); err != nil {
		return err
	}
	c.stored[i] = int64(len(data))
	return nil
}

func (c *cartridge) Size() (int64, error) {
	if c.closed {
		return 0, store.ErrClosed
	}
	if c.lease == nil {
		h, err := c.s.getHead(c.barcode)
		if err != nil {
			return 0, err
		}
		// A new head may describe chunks rewritten since the blocks
		// were fetched (an erase, then new records).
		c.cache.clear()
		c.head, c.size = h.head, h.size
	}
	return c.size, nil
}

func (c *cartridge) Truncate(size int64) error {
	if err := c.writable(); err != nil {
		return err
	}
	if size < 0 {
		return fmt.Errorf("s3store: %s: negative size", c.name)
	}
	c.reapAll()
	if size < store.HeadLen {
		clear(c.head[size:])
	}
	for i, b := range c.bufs {
		if start := c.chunkStart(i); start >= size {
			delete(c.bufs, i)
		} else if int64(len(b.data)) > size-start {
			b.data = b.data[:size-start]
			b.dirty = true
		}
	}
	for i, n := range c.stored {
		start := c.chunkStart(i)
		switch {
		case c.doomed[i]:
			// Cut by an earlier truncate: zeros however the size moves.
		case start >= size:
			c.doomed[i] = true
			c.cache.dropChunk(i)
		case start+n > size && c.bufs[i] == nil:
			// Cut a stored chunk that crosses the new end.
			b, err := c.load(i)
			if err != nil {
				return err
			}
			b.data = b.data[:size-start]
			b.dirty = true
			b.used = c.next()
		}
	}
	c.size = size
	c.changed = true
	return nil
}

// Sync DELETEs the chunks a truncate dropped, PUTs every dirty chunk (in
// parallel), then the head with the new size: the head never describes
// data not yet stored.
func (c *cartridge) Sync() error {
	if c.closed {
		return store.ErrClosed
	}
	if c.lease == nil {
		return nil
	}
	if err := c.lease.check(); err != nil {
		return err
	}
	c.reapAll()
	if !c.changed {
		return nil
	}
	for i := range c.doomed {
		if err := c.s.delete(c.s.chunkKey(c.barcode, i), c.barcode); err != nil {
			return err
		}
		delete(c.doomed, i)
		delete(c.stored, i)
	}
	if err := c.putDirty(); err != nil {
		return err
	}
	if err := c.lease.check(); err != nil {
		return err
	}
	if err := c.s.putHead(c.barcode, c.head[:min(c.size, store.HeadLen)], c.size, c.chunk, false); err != nil {
		return err
	}
	c.changed, c.upErr = false, nil
	return nil
}

// putDirty PUTs the dirty buffers, Uploads at a time, and returns the
// first error; the ones that failed stay dirty.
func (c *cartridge) putDirty() error {
	type result struct {
		i   int64
		n   int64
		err error
	}
	var wg sync.WaitGroup
	results := make(chan result, len(c.bufs))
	for i, b := range c.bufs {
		if !b.dirty {
			continue
		}
		wg.Add(1)
		c.sem <- struct{}{}
		go func(i int64, data []byte) {
			defer wg.Done()
			defer func() { <-c.sem }()
			results <- result{i, int64(len(data)), c.s.putChunk(c.barcode, i, data)}
		}(i, b.data)
	}
	wg.Wait()
	close(results)
	var first error
	for r := range results {
		if r.err != nil {
			first = cmpErr(first, r.err)
			continue
		}
		c.bufs[r.i].dirty = false
		c.stored[r.i] = r.n
	}
	return first
}

func cmpErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// Close syncs a writer and releases its lease.
func (c *cartridge) Close() error {
	if c.closed {
		return store.ErrClosed
	}
	var err error
	if c.lease != nil {
		err = c.Sync()
		c.stopUploads()
		c.lease.release()
		c.bufs = nil
	}
	c.closed = true
	c.cache.clear()
	return err
}

// stopUploads waits for background PUTs.
func (c *cartridge) stopUploads() {
	for _, u := range c.inflight {
		<-u.done
	}
}

// putChunk PUTs one chunk object.
func (s *Store) putChunk(barcode string, i int64, data []byte) error {
	ctx, cancel := s.ctx()
	defer cancel()
	_, err := s.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket: &s.cfg.Bucket, Key: aws.String(s.chunkKey(barcode, i)),
		Body: bytes.NewReader(data), ContentLength: aws.Int64(int64(len(data))),
	})
	return s.wrap(err, barcode)
}

// getRange reads len(p) bytes of key from off into p: a missing object or
// a range past its end reads nothing (the caller zeros the rest).
func (s *Store) getRange(barcode, key string, p []byte, off int64) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	ctx, cancel := s.ctx()
	defer cancel()
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{
		Bucket: &s.cfg.Bucket, Key: &key,
		Range: aws.String(fmt.Sprintf("bytes=%d-%d", off, off+int64(len(p))-1)),
	})
	if st := status(err); st == http.StatusNotFound || st == http.StatusRequestedRangeNotSatisfiable {
		return 0, nil
	}
	if err != nil {
		return 0, s.wrap(err, barcode)
	}
	defer out.Body.Close()
	n, err := io.ReadFull(out.Body, p)
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		err = nil
	}
	if err != nil {
		return n, s.wrap(err, barcode)
	}
	return n, nil
}
