package dma

import (
	"context"
	"sync"

	"ferry/internal/catalog"
	"ferry/internal/ndmp/wire"
)

// checksumBatch is how many checksums go to the catalog at once.
const checksumBatch = 8192

// checksumWriter records the data checksums an agent posts during a backup
// (FERRY_FH_ADD_CHECKSUMS) from a goroutine of its own, so the post
// handler never waits for the catalog.
type checksumWriter struct {
	ch   chan []catalog.Checksum
	done chan struct{}
	cur  []catalog.Checksum // filled by the post handler
	n    int64

	mu  sync.Mutex
	err error
}

func newChecksumWriter(ctx context.Context, cat catalog.FileCatalog, backupID int64) *checksumWriter {
	w := &checksumWriter{ch: make(chan []catalog.Checksum, 16), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		for b := range w.ch {
			if err := cat.AddChecksums(ctx, backupID, b); err != nil {
				w.mu.Lock()
				w.err = err
				w.mu.Unlock()
			}
		}
	}()
	return w
}

// add takes one post's checksums (one goroutine: the post handler).
func (w *checksumWriter) add(sums []wire.FhChecksum) {
	for _, s := range sums {
		w.cur = append(w.cur, catalog.Checksum{FhInfo: s.FhInfo, CRC32C: s.CRC32C})
	}
	w.n += int64(len(sums))
	if len(w.cur) >= checksumBatch {
		w.ch <- w.cur
		w.cur = nil
	}
}

// Close writes what is left; call it once the connection is closed.
func (w *checksumWriter) Close() (int64, error) {
	if len(w.cur) > 0 {
		w.ch <- w.cur
	}
	close(w.ch)
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.n, w.err
}
