package store

import (
	"fmt"
	"io"
	"io/fs"
	"slices"
	"sync"
)

// memChunk is the unit a Mem cartridge allocates: a sparse cartridge
// costs the chunks written, as a sparse file costs its blocks.
const memChunk = 64 << 10

// Mem is a Store in memory, for tests. Every open sees every write at
// once and Sync does nothing: nothing outlives the process anyway (Faulty
// models what a crash loses). The writer lease is a flag per cartridge.
type Mem struct {
	mu       sync.Mutex
	carts    map[string]*memData
	buffered bool
}

var _ Store = (*Mem)(nil)

// NewMem returns an empty memory store.
func NewMem() *Mem { return &Mem{carts: map[string]*memData{}} }

// NewMemBuffered returns an empty memory store whose writers keep their
// changes to themselves until Sync or Close, as an S3 store does: other
// opens see a cartridge as it was last synced, never a write in between.
func NewMemBuffered() *Mem { return &Mem{carts: map[string]*memData{}, buffered: true} }

// memData is one cartridge's bytes, shared by its opens.
type memData struct {
	mu     sync.Mutex
	chunks map[int64][]byte // chunk index -> memChunk bytes
	size   int64
	leased bool // guarded by Mem.mu

	dirty map[int64]bool // a buffered writer's copy: chunks changed since publish
}

// Create makes a cartridge holding head.
func (s *Mem) Create(barcode string, head []byte) error {
	if !ValidBarcode(barcode) {
		return fmt.Errorf("%w: %q", ErrBadBarcode, barcode)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.carts[barcode] != nil {
		return fmt.Errorf("store: mem:%s: %w", barcode, fs.ErrExist)
	}
	d := &memData{chunks: map[int64][]byte{}}
	d.writeAt(head, 0)
	s.carts[barcode] = d
	return nil
}

// Open opens a cartridge; a writable open takes the lease.
func (s *Mem) Open(barcode string, writable bool) (Cartridge, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.carts[barcode]
	if d == nil {
		return nil, fmt.Errorf("store: mem:%s: %w", barcode, fs.ErrNotExist)
	}
	if writable {
		if d.leased {
			return nil, fmt.Errorf("%w: mem:%s", ErrInUse, barcode)
		}
		d.leased = true
	}
	c := &memCartridge{s: s, d: d, name: "mem:" + barcode, ro: !writable}
	if writable && s.buffered {
		d.mu.Lock()
		c.shared, c.d = d, d.clone()
		d.mu.Unlock()
	}
	return c, nil
}

// List returns the barcodes, sorted.
func (s *Mem) List() ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.carts))
	for b := range s.carts {
		out = append(out, b)
	}
	slices.Sort(out)
	return out, nil
}

// Remove deletes a cartridge unless a writer holds it; opens already made
// keep reading what it held.
func (s *Mem) Remove(barcode string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.carts[barcode]
	switch {
	case d == nil:
		return fmt.Errorf("store: mem:%s: %w", barcode, fs.ErrNotExist)
	case d.leased:
		return fmt.Errorf("%w: mem:%s", ErrInUse, barcode)
	}
	delete(s.carts, barcode)
	return nil
}

// memCartridge is an open Mem cartridge.
type memCartridge struct {
	s      *Mem
	d      *memData // what this open reads and writes
	shared *memData // buffered writer: what other opens see, set at Sync
	name   string
	ro     bool
	closed bool
}

func (c *memCartridge) ReadAt(p []byte, off int64) (int, error) {
	if c.closed {
		return 0, ErrClosed
	}
	if off < 0 {
		return 0, fmt.Errorf("store: %s: negative offset", c.name)
	}
	c.d.mu.Lock()
	defer c.d.mu.Unlock()
	return c.d.readAt(p, off)
}

func (c *memCartridge) WriteAt(p []byte, off int64) (int, error) {
	if err := c.writable(); err != nil {
		return 0, err
	}
	if off < 0 {
		return 0, fmt.Errorf("store: %s: negative offset", c.name)
	}
	c.d.mu.Lock()
	defer c.d.mu.Unlock()
	c.d.writeAt(p, off)
	return len(p), nil
}

func (c *memCartridge) Size() (int64, error) {
	if c.closed {
		return 0, ErrClosed
	}
	c.d.mu.Lock()
	defer c.d.mu.Unlock()
	return c.d.size, nil
}

func (c *memCartridge) Truncate(size int64) error {
	if err := c.writable(); err != nil {
		return err
	}
	if size < 0 {
		return fmt.Errorf("store: %s: negative size", c.name)
	}
	c.d.mu.Lock()
	defer c.d.mu.Unlock()
	c.d.truncate(size)
	return nil
}

func (c *memCartridge) Sync() error {
	if c.closed {
		return ErrClosed
	}
	c.publish()
	return nil
}

func (c *memCartridge) Close() error {
	if c.closed {
		return ErrClosed
	}
	c.publish()
	c.closed = true
	if !c.ro {
		c.s.mu.Lock()
		if c.shared != nil {
			c.shared.leased = false
		} else {
			c.d.leased = false
		}
		c.s.mu.Unlock()
	}
	return nil
}

// publish makes a buffered writer's changes what other opens see.
func (c *memCartridge) publish() {
	if c.shared == nil {
		return
	}
	c.d.mu.Lock()
	defer c.d.mu.Unlock()
	c.shared.mu.Lock()
	defer c.shared.mu.Unlock()
	for i := range c.d.dirty {
		if ch := c.d.chunks[i]; ch != nil {
			c.shared.chunks[i] = append([]byte(nil), ch...)
		} else {
			delete(c.shared.chunks, i)
		}
	}
	clear(c.d.dirty)
	c.shared.size = c.d.size
}

func (c *memCartridge) Name() string { return c.name }

func (c *memCartridge) writable() error {
	if c.closed {
		return ErrClosed
	}
	if c.ro {
		return ErrReadOnly
	}
	return nil
}

// clone returns a copy of d's bytes (without its lease); the caller
// holds d.mu or owns d.
func (d *memData) clone() *memData {
	n := &memData{chunks: make(map[int64][]byte, len(d.chunks)), size: d.size, dirty: map[int64]bool{}}
	for i, ch := range d.chunks {
		n.chunks[i] = append([]byte(nil), ch...)
	}
	return n
}

// readAt copies the bytes at off into p; missing chunks are zeros.
func (d *memData) readAt(p []byte, off int64) (int, error) {
	n := 0
	for n < len(p) && off < d.size {
		ci, co := off/memChunk, off%memChunk
		k := int(min(int64(len(p)-n), memChunk-co, d.size-off))
		if ch := d.chunks[ci]; ch != nil {
			copy(p[n:n+k], ch[co:])
		} else {
			clear(p[n : n+k])
		}
		n += k
		off += int64(k)
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// writeAt copies p to off, allocating chunks as needed.
func (d *memData) writeAt(p []byte, off int64) {
	end := off + int64(len(p))
	for len(p) > 0 {
		ci, co := off/memChunk, off%memChunk
		ch := d.chunks[ci]
		if ch == nil {
			ch = make([]byte, memChunk)
			d.chunks[ci] = ch
		}
		k := copy(ch[co:], p)
		if d.dirty != nil {
			d.dirty[ci] = true
		}
		p = p[k:]
		off += int64(k)
	}
	d.size = max(d.size, end)
}

// truncate sets the size; the bytes past it are zeroed so that growing
// again shows zeros.
func (d *memData) truncate(size int64) {
	if size < d.size {
		for ci, ch := range d.chunks {
			start := ci * memChunk
			switch {
			case start >= size:
				delete(d.chunks, ci)
			case start+memChunk > size:
				clear(ch[size-start:])
			default:
				continue
			}
			if d.dirty != nil {
				d.dirty[ci] = true
			}
		}
	}
	d.size = size
}
