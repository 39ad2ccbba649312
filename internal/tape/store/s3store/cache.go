package s3store

import "sync"

// blockCache holds the chunk bytes a cartridge fetched with ranged GETs,
// in blocks of a fixed size aligned within each chunk object. A reader
// that goes block after block gets the next ReadAhead blocks fetched in
// the background, so that a restore streams at what parallel GETs give
// rather than at one round trip per record.
//
// What a cached block holds never goes stale for a reader while it keeps
// the head it read (chunks are written once between erases, and a chunk
// PUT after the head is invisible); Size, which fetches the head again,
// drops the cache. A writer fetches no blocks ahead, and drops a chunk's
// blocks when it takes the chunk into memory to change it.
type blockCache struct {
	c     *cartridge
	block int64
	ahead int
	max   int

	mu      sync.Mutex
	entries map[blockKey]*cached
	free    [][]byte // buffers of evicted blocks, for reuse
	tick    uint64
	last    blockKey // the block read last
	hasLast bool
}

type blockKey struct{ chunk, idx int64 }

// cached is one block, ready once its GET is done.
type cached struct {
	ready chan struct{}
	data  []byte // the bytes fetched; zeros past them
	err   error
	used  uint64
}

func newBlockCache(c *cartridge, block int64, ahead int) *blockCache {
	return &blockCache{c: c, block: block, ahead: ahead, max: ahead + 2, entries: map[blockKey]*cached{}}
}

// read fills p with chunk i's bytes from rel on.
func (bc *blockCache) read(i int64, p []byte, rel int64) error {
	for len(p) > 0 {
		k := blockKey{i, rel / bc.block}
		in := rel - k.idx*bc.block
		n := int(min(int64(len(p)), bc.block-in))
		e := bc.get(k)
		if e == nil {
			// Not part of a sequential read: GET just these bytes (an
			// index entry, the first record of a restore).
			c := bc.c
			got, err := c.s.getRange(c.barcode, c.s.chunkKey(c.barcode, i), p[:n], rel)
			if err != nil {
				return err
			}
			clear(p[got:n])
		} else {
			<-e.ready
			if e.err != nil {
				bc.mu.Lock()
				if bc.entries[k] == e {
					delete(bc.entries, k)
				}
				bc.mu.Unlock()
				return e.err
			}
			copyZero(p[:n], e.data, in)
		}
		p, rel = p[n:], rel+int64(n)
	}
	return nil
}

// get returns block k if the reader goes block after block (nil if not),
// starting its GET if needed and keeping the next blocks coming. A read is
// sequential when its block, or the one before, was read last or is
// cached: a restore's payload reads stay sequential across the index
// reads between them.
func (bc *blockCache) get(k blockKey) *cached {
	bc.mu.Lock()
	defer bc.mu.Unlock()
	prev, hasPrev := bc.prev(k)
	sequential := bc.entries[k] != nil ||
		bc.hasLast && (bc.last == k || hasPrev && bc.last == prev) ||
		hasPrev && bc.entries[prev] != nil
	bc.last, bc.hasLast = k, true
	if !sequential {
		return nil
	}
	e := bc.startLocked(k)
	n := k
	for range bc.ahead {
		n = bc.next(n)
		if bc.start(n) >= bc.c.size {
			break
		}
		bc.startLocked(n)
	}
	return e
}

// prev is the block before k, if k is not the first of the byte space.
func (bc *blockCache) prev(k blockKey) (blockKey, bool) {
	if k.idx > 0 {
		return blockKey{k.chunk, k.idx - 1}, true
	}
	if k.chunk == 0 {
		return blockKey{}, false
	}
	c := bc.c
	last := (c.chunkStart(k.chunk) - c.chunkStart(k.chunk-1) - 1) / bc.block
	return blockKey{k.chunk - 1, last}, true
}

// startLocked returns block k's entry, starting its GET if it has none.
func (bc *blockCache) startLocked(k blockKey) *cached {
	bc.tick++
	if e := bc.entries[k]; e != nil {
		e.used = bc.tick
		return e
	}
	bc.evictLocked()
	e := &cached{ready: make(chan struct{}), used: bc.tick}
	bc.entries[k] = e
	// Bound the GET by the chunk's end and the cartridge's size.
	c := bc.c
	from := c.chunkStart(k.chunk) + k.idx*bc.block
	n := min(bc.block, c.chunkStart(k.chunk+1)-from, max(c.size-from, 0))
	s, barcode, key := c.s, c.barcode, c.s.chunkKey(c.barcode, k.chunk)
	var buf []byte
	if l := len(bc.free); l > 0 && int64(cap(bc.free[l-1])) >= n {
		buf, bc.free = bc.free[l-1][:n], bc.free[:l-1]
	} else {
		buf = make([]byte, n)
	}
	go func() {
		defer close(e.ready)
		got, err := s.getRange(barcode, key, buf, k.idx*bc.block)
		e.data, e.err = buf[:got], err
	}()
	return e
}

// start is block k's offset in the byte space.
func (bc *blockCache) start(k blockKey) int64 {
	return bc.c.chunkStart(k.chunk) + k.idx*bc.block
}

// next is the block after k: in the same chunk, else the next chunk's first.
func (bc *blockCache) next(k blockKey) blockKey {
	n := blockKey{k.chunk, k.idx + 1}
	if bc.start(n) >= bc.c.chunkStart(k.chunk+1) {
		return blockKey{k.chunk + 1, 0}
	}
	return n
}

// evictLocked drops the least recently used blocks beyond max.
func (bc *blockCache) evictLocked() {
	for len(bc.entries) >= bc.max {
		var victim blockKey
		var oldest uint64
		first := true
		for k, e := range bc.entries {
			if first || e.used < oldest {
				victim, oldest, first = k, e.used, false
			}
		}
		e := bc.entries[victim]
		delete(bc.entries, victim)
		select {
		case <-e.ready: // its GET is done: nothing writes its buffer
			if len(bc.free) < 2 {
				bc.free = append(bc.free, e.data[:0])
			}
		default:
		}
	}
}

// dropChunk forgets chunk i's blocks.
func (bc *blockCache) dropChunk(i int64) {
	bc.mu.Lock()
	defer bc.mu.Unlock()
	for k := range bc.entries {
		if k.chunk == i {
			delete(bc.entries, k)
		}
	}
}

// clear forgets every block.
func (bc *blockCache) clear() {
	bc.mu.Lock()
	defer bc.mu.Unlock()
	clear(bc.entries)
	bc.hasLast = false
}
