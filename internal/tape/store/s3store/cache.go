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
	return &blockCache{c: c, block: block, ahead: ahead, max: ahead + 4, entries: map[blockKey]*cached{}}
}

// read fills p with chunk i's bytes from rel on.
func (bc *blockCache) read(i int64, p []byte, rel int64) error {
	for len(p) > 0 {
		k := blockKey{i, rel / bc.block}
		e := bc.get(k)
		<-e.ready
		if e.err != nil {
			bc.mu.Lock()
			if bc.entries[k] == e {
				delete(bc.entries, k)
			}
			bc.mu.Unlock()
			return e.err
		}
		in := rel - k.idx*bc.block
		n := int(min(int64(len(p)), bc.block-in))
		copyZero(p[:n], e.data, in)
		p, rel = p[n:], rel+int64(n)
	}
	return nil
}

// get returns block k, starting its GET if needed, and keeps a sequential
// reader's next blocks coming.
func (bc *blockCache) get(k blockKey) *cached {
	bc.mu.Lock()
	defer bc.mu.Unlock()
	e := bc.startLocked(k)
	sequential := bc.hasLast && (bc.last == k || bc.next(bc.last) == k)
	bc.last, bc.hasLast = k, true
	if sequential && bc.ahead > 0 {
		n := k
		for range bc.ahead {
			n = bc.next(n)
			if bc.start(n) >= bc.c.size {
				break
			}
			bc.startLocked(n)
		}
	}
	return e
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
	go func() {
		defer close(e.ready)
		buf := make([]byte, n)
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
		delete(bc.entries, victim)
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
