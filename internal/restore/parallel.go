package restore

import (
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"path"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"ferry/internal/format"
	"ferry/internal/fsmeta"
)

// Small regular files may be written by a few workers while the stream goes
// on (Options.Workers > 1). The stream is still read by one goroutine, in
// order; a worker gets a batch of files, each with its whole data, its open
// parent directory and its entry, and creates, writes and applies metadata.
// Results are reported in stream order. It is off by default: on the 2-vCPU
// machines measured (bench/cli.sh, docs/restore.md) one goroutine creating
// the files was as fast or faster and used less CPU, because reading the
// stream already runs beside it (the NDMP connection's reader) and inode
// creation is largely serialized in the kernel.
const (
	defaultWorkers = 1
	parallelMax    = 1 << 20  // files up to this size go to the workers
	parallelBytes  = 32 << 20 // file data held for the workers
	parallelDepth  = 512      // entries waiting to be reported
	// Files go to the workers in batches: handing over one file at a time
	// woke a worker per file (futex and scheduler spins by the thousand).
	batchFiles = 64
	batchBytes = 2 << 20
)

// dirRef is an open directory shared by the Extractor and the workers writing
// into it; the last user closes it.
type dirRef struct {
	d    *fsmeta.Dir
	refs atomic.Int32
}

func newDirRef(d *fsmeta.Dir) *dirRef {
	r := &dirRef{d: d}
	r.refs.Store(1)
	return r
}

func (r *dirRef) hold() *dirRef { r.refs.Add(1); return r }

func (r *dirRef) release() {
	if r.refs.Add(-1) == 0 {
		r.d.Close()
	}
}

// job is one entry's result on its way to Report; a queued file also carries
// what its worker needs. done is nil for a result known at once.
type job struct {
	res   Result
	name  string // cleaned stream name (hard-link targets)
	entry *format.Entry
	dir   *dirRef
	data  []byte
	done  chan struct{}
}

// workers is the pool and the in-order queue of results.
type workers struct {
	n        int
	work     chan []*job
	batch    []*job // not yet handed over
	batchLen int64  // bytes of data in batch
	wg       sync.WaitGroup
	started  bool
	queue    []*job
	pending  map[string]bool // destinations of queued files
	buffered int64
}

func newWorkers(n int) *workers {
	if n == 0 {
		n = defaultWorkers
	}
	if n < 2 {
		return nil
	}
	return &workers{n: n, pending: map[string]bool{}}
}

// start launches the workers on first use.
func (p *workers) start() {
	if p.started {
		return
	}
	p.started = true
	p.work = make(chan []*job, parallelDepth/batchFiles+1)
	for range p.n {
		p.wg.Go(func() {
			for b := range p.work {
				for _, j := range b {
					j.res.Err, j.res.Meta = writeFile(j.dir.d, path.Base(j.res.Dest), j.data, j.entry)
					j.dir.release()
					close(j.done)
				}
			}
		})
	}
}

// add queues j for the workers, handing over a batch when it is full.
func (p *workers) add(j *job) {
	p.batch = append(p.batch, j)
	p.batchLen += int64(len(j.data))
	if len(p.batch) >= batchFiles || p.batchLen >= batchBytes {
		p.flush()
	}
}

// flush hands the batch being filled to the workers.
func (p *workers) flush() {
	if len(p.batch) > 0 {
		p.work <- p.batch
		p.batch, p.batchLen = nil, 0
	}
}

// stop ends the workers once the queue is drained.
func (p *workers) stop() {
	if p.started {
		p.flush()
		close(p.work)
		p.wg.Wait()
		p.started = false
	}
}

// canQueue tells whether the entry may go to a worker: a plain regular file
// of modest size, with no existing file to replace.
func (x *Extractor) canQueue(e *format.Entry) bool {
	return x.pool != nil && !x.opts.Overwrite && e.Type == format.Regular &&
		e.Sparse == nil && e.Size <= parallelMax
}

// queue reads the current entry's data and hands the file to a worker.
func (x *Extractor) queue(src Source, e *format.Entry, name, dest string, off int64, res Result) error {
	x.barrier(dest)
	if err := x.parent(dest); err != nil {
		res.Err = err
		x.report(res)
		return nil
	}
	d, err := x.openDir(path.Dir(dest))
	if err != nil {
		res.Err = err
		x.report(res)
		return nil
	}
	w := &sliceWriter{b: make([]byte, 0, e.Size)}
	if _, err := src.WriteTo(w); err != nil {
		return &streamError{err}
	}
	if want, ok := x.expected(off); ok {
		if got := crc32.Checksum(w.b, castagnoli); got != want {
			res.Err = x.damagedData(d, dest, w.b, e, got, want)
			x.report(res)
			return nil
		}
	}
	p := x.pool
	for len(p.queue) >= parallelDepth || (p.buffered > 0 && p.buffered+e.Size > parallelBytes) {
		x.collect(true)
	}
	ent := *e
	j := &job{res: res, name: name, entry: &ent, dir: d.hold(), data: w.b, done: make(chan struct{})}
	p.start()
	p.queue = append(p.queue, j)
	p.pending[dest] = true
	p.buffered += int64(len(j.data))
	p.add(j)
	x.collect(false)
	return nil
}

// barrier waits for the queued files when one of them has dest's name, so
// entries of one name keep stream order.
func (x *Extractor) barrier(dest string) {
	if x.pool != nil && x.pool.pending[dest] {
		x.drain()
	}
}

// drain waits for every queued file and reports all queued results.
func (x *Extractor) drain() {
	if x.pool == nil {
		return
	}
	for len(x.pool.queue) > 0 {
		x.collect(true)
	}
}

// collect reports finished results from the head of the queue; wait makes it
// wait for the head.
func (x *Extractor) collect(wait bool) {
	p := x.pool
	if wait {
		p.flush() // what is waited for may still be in the batch
	}
	for len(p.queue) > 0 {
		j := p.queue[0]
		if j.done != nil {
			if !wait {
				select {
				case <-j.done:
				default:
					return
				}
			}
			<-j.done
			wait = false
			x.finishJob(j)
		}
		p.queue[0] = nil
		p.queue = p.queue[1:]
		x.count(j.res)
	}
}

func (x *Extractor) finishJob(j *job) {
	p := x.pool
	delete(p.pending, j.res.Dest)
	p.buffered -= int64(len(j.data))
	if j.res.Err == nil {
		x.links[j.name] = j.res.Dest
		x.sum.Bytes += int64(len(j.data))
		x.wrote(j.res.Dest)
	}
	j.data = nil
}

// damagedData is damaged for a small file whose data is in memory: nothing
// is written, or the data under the name plus DamagedSuffix.
func (x *Extractor) damagedData(d *dirRef, dest string, data []byte, e *format.Entry, got, want uint32) error {
	err := fmt.Errorf("%w: %q (CRC-32C %08x, at backup %08x)", ErrDamaged, dest, got, want)
	if !x.opts.KeepDamaged {
		return err
	}
	keep := path.Base(dest) + DamagedSuffix
	if werr, _ := writeFile(d.d, keep, data, e); werr != nil {
		return fmt.Errorf("%w; keeping it as %s: %v", err, keep, werr)
	}
	return fmt.Errorf("%w; kept as %q", err, dest+DamagedSuffix)
}

// writeFile creates base in d (O_EXCL|O_NOFOLLOW: never over an existing
// name, never through a symlink) from data and sets e's metadata on the
// open descriptor; a failed write removes it again.
func writeFile(d *fsmeta.Dir, base string, data []byte, e *format.Entry) (error, error) {
	f, err := d.CreateFile(base, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%w: %q", ErrExists, path.Join(d.Name(), base)), nil
	}
	if err != nil {
		return err, nil
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		unix.Unlinkat(int(d.File().Fd()), base, 0)
		return err, nil
	}
	merr := d.ApplyFile(f, base, e)
	if err := f.Close(); err != nil {
		unix.Unlinkat(int(d.File().Fd()), base, 0)
		return err, nil
	}
	return nil, merr
}

// sliceWriter collects a small file's data.
type sliceWriter struct{ b []byte }

func (w *sliceWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}
