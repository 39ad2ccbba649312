package disk

import (
	"encoding/binary"
	"fmt"
	"io"
	"math/bits"
	"os"
	"sync"
	"sync/atomic"
)

// bitmap is one bit per chunk, kept in memory for lock-free tests and in
// a file of little-endian 64-bit words (docs/disk.md, "Snapshots"). A set
// bit is written to the file before set returns, so a write that follows
// it reaches the image only after the file records it: a killed process
// leaves the page cache holding both in that order.
type bitmap struct {
	f     *os.File
	mu    sync.Mutex // orders the file's word writes, so a word never goes back
	words []atomic.Uint64
	buf   [8]byte // under mu
}

// wordsFor is the number of words for n chunks.
func wordsFor(n uint64) int { return int((n + 63) / 64) }

// createBitmap makes an empty bitmap file of n bits.
func createBitmap(path string, n uint64) (*bitmap, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, err
	}
	if err := f.Truncate(int64(wordsFor(n)) * 8); err != nil {
		f.Close()
		return nil, err
	}
	return &bitmap{f: f, words: make([]atomic.Uint64, wordsFor(n))}, nil
}

// openBitmap reads a bitmap file of n bits; a file of another length is
// malformed.
func openBitmap(path string, n uint64) (*bitmap, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(f)
	if err == nil && len(b) != wordsFor(n)*8 {
		err = fmt.Errorf("%w: %s is %d bytes, want %d", ErrBadSnapshot, path, len(b), wordsFor(n)*8)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	m := &bitmap{f: f, words: make([]atomic.Uint64, wordsFor(n))}
	for i := range m.words {
		m.words[i].Store(binary.LittleEndian.Uint64(b[i*8:]))
	}
	return m, nil
}

// has reports whether bit i is set.
func (m *bitmap) has(i uint64) bool { return m.words[i/64].Load()&(1<<(i%64)) != 0 }

// set sets bit i, in memory and in the file.
func (m *bitmap) set(i uint64) error {
	if m.has(i) {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	w := &m.words[i/64]
	w.Or(1 << (i % 64))
	binary.LittleEndian.PutUint64(m.buf[:], w.Load())
	_, err := m.f.WriteAt(m.buf[:], int64(i/64)*8)
	return err
}

// setMemory sets bit i in memory only: another file records it (a
// snapshot's copy-on-write map, for the chunks it preserves).
func (m *bitmap) setMemory(i uint64) { m.words[i/64].Or(1 << (i % 64)) }

// orMemory sets in memory every bit set in o.
func (m *bitmap) orMemory(o *bitmap) {
	for i := range m.words {
		m.words[i].Or(o.words[i].Load())
	}
}

// flush writes the whole bitmap to its file, durably.
func (m *bitmap) flush() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	b := make([]byte, len(m.words)*8)
	for i := range m.words {
		binary.LittleEndian.PutUint64(b[i*8:], m.words[i].Load())
	}
	if _, err := m.f.WriteAt(b, 0); err != nil {
		return err
	}
	return m.f.Sync()
}

// count is the number of bits set.
func (m *bitmap) count() int64 {
	var n int
	for i := range m.words {
		n += bits.OnesCount64(m.words[i].Load())
	}
	return int64(n)
}

// orInto sets in dst every bit set here.
func (m *bitmap) orInto(dst []uint64) {
	for i := range m.words {
		dst[i] |= m.words[i].Load()
	}
}

// close closes the file.
func (m *bitmap) close() error { return m.f.Close() }
