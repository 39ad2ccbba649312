package tarengine

import (
	"context"
	"sync"

	"ferry/internal/format"
	"ferry/internal/ndmp/wire"
)

// File history batching: entries are collected into batches of fhBatch and
// handed to a poster goroutine through a channel of fhQueue batches, so at
// most (fhQueue+2)*fhBatch entries wait in memory. The stream writer blocks
// only when the queue is full (the DMA reads history slower than the stream
// moves).
const (
	fhBatch = 1024
	fhQueue = 16
)

type fhKind uint8

const (
	fhFile fhKind = iota
	fhDir
	fhNode
	fhSum // a data checksum (ferry's extension), not file history proper
)

type fhItem struct {
	kind fhKind
	file wire.FhFile
	dir  wire.FhDir
	node wire.FhNode
	sum  wire.FhChecksum
}

// history queues file history and posts it from its own goroutine.
type history struct {
	post  func(wire.Code, wire.Body)
	batch []fhItem
	sums  []fhItem // checksums, posted after the batch's history
	ch    chan []fhItem
	done  chan struct{}
	ctx   context.Context
	mu    sync.Mutex
	count int // entries posted
}

func newHistory(ctx context.Context, post func(wire.Code, wire.Body)) *history {
	h := &history{post: post, ch: make(chan []fhItem, fhQueue), done: make(chan struct{}), ctx: ctx}
	go h.run()
	return h
}

// add queues one entry; it blocks while the queue is full.
func (h *history) add(it fhItem) {
	if it.kind == fhSum {
		h.sums = append(h.sums, it)
		return
	}
	h.batch = append(h.batch, it)
	if len(h.batch) >= fhBatch {
		h.flush()
	}
}

// flush queues the batch, its checksums last so they make one post.
func (h *history) flush() {
	h.batch = append(h.batch, h.sums...)
	h.sums = h.sums[:0]
	if len(h.batch) == 0 {
		return
	}
	select {
	case h.ch <- h.batch:
	case <-h.ctx.Done():
	}
	h.batch = make([]fhItem, 0, fhBatch)
}

// close posts what is queued and waits for the poster.
func (h *history) close() int {
	h.flush()
	close(h.ch)
	<-h.done
	return h.count
}

func (h *history) run() {
	defer close(h.done)
	for b := range h.ch {
		if h.ctx.Err() != nil {
			continue // drain without posting
		}
		h.postBatch(b)
	}
}

// postBatch posts runs of same-kind entries as one message each, in order.
func (h *history) postBatch(b []fhItem) {
	for len(b) > 0 {
		n := 1
		for n < len(b) && b[n].kind == b[0].kind {
			n++
		}
		run := b[:n]
		switch run[0].kind {
		case fhFile:
			m := &wire.FhAddFile{Files: make([]wire.FhFile, n)}
			for i := range run {
				m.Files[i] = run[i].file
			}
			h.post(wire.CodeFhAddFile, m)
		case fhDir:
			m := &wire.FhAddDir{Dirs: make([]wire.FhDir, n)}
			for i := range run {
				m.Dirs[i] = run[i].dir
			}
			h.post(wire.CodeFhAddDir, m)
		case fhNode:
			m := &wire.FhAddNode{Nodes: make([]wire.FhNode, n)}
			for i := range run {
				m.Nodes[i] = run[i].node
			}
			h.post(wire.CodeFhAddNode, m)
		case fhSum:
			m := &wire.FerryFhAddChecksums{Checksums: make([]wire.FhChecksum, n)}
			for i := range run {
				m.Checksums[i] = run[i].sum
			}
			h.post(wire.CodeFerryFhAddChecksums, m)
		}
		if run[0].kind != fhSum { // checksums are not file history
			h.count += n
		}
		b = b[n:]
	}
}

// fileStat converts an entry's metadata for file history.
func fileStat(e *format.Entry, links uint32) wire.FileStat {
	st := wire.FileStat{
		FsType: wire.FsUnix,
		Ftype:  fileType(e.Type),
		Mtime:  unix32(e.ModTime.Unix()),
		Atime:  unix32(e.AccessTime.Unix()),
		Ctime:  unix32(e.ChangeTime.Unix()),
		Owner:  uint32(e.UID),
		Group:  uint32(e.GID),
		Fattr:  e.Mode & 0o7777,
		Size:   uint64(max(e.Size, 0)),
		Links:  links,
	}
	if e.AccessTime.IsZero() {
		st.Unsupported |= wire.FileStatAtimeUnsupported
	}
	if e.ChangeTime.IsZero() {
		st.Unsupported |= wire.FileStatCtimeUnsupported
	}
	return st
}

func unix32(s int64) uint32 { return uint32(max(0, min(s, 1<<32-1))) }

func fileType(t format.Type) wire.FileType {
	switch t {
	case format.Dir:
		return wire.FileDir
	case format.Regular, format.HardLink:
		return wire.FileReg
	case format.Symlink:
		return wire.FileSLink
	case format.FIFO:
		return wire.FileFIFO
	case format.CharDevice:
		return wire.FileCSpec
	case format.BlockDevice:
		return wire.FileBSpec
	}
	return wire.FileOther
}

// fhPath is a file-history path: the separator first, relative to FILESYSTEM.
func fhPath(name string) string {
	if name == "." {
		return "/"
	}
	return "/" + name
}

func unixName(p string) []wire.FileName { return []wire.FileName{{FsType: wire.FsUnix, Path: p}} }
