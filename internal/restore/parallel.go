package restore

import (
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"ferry/internal/format"
	"ferry/internal/fsmeta"
)

// Small regular files are written by a few workers while the stream goes on:
// creating an inode costs the kernel far more than copying 10 KiB, and one
// goroutine creating files leaves the other cores idle. The stream is still
// read by one goroutine, in order; a worker gets a file's whole data, its open
// parent directory and its entry, and does create (temporary name), write,
// Apply, rename. Results are reported in stream order.
const (
	defaultWorkers = 4
	parallelMax    = 1 << 20  // files up to this size go to the workers
	parallelBytes  = 32 << 20 // file data held for the workers
	parallelDepth  = 512      // entries waiting to be reported
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
	work     chan *job
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
	p.work = make(chan *job, parallelDepth)
	for range p.n {
		p.wg.Go(func() {
			for j := range p.work {
				j.res.Err, j.res.Meta = writeFile(j.dir.d, path.Base(j.res.Dest), j.data, j.entry)
				j.dir.release()
				close(j.done)
			}
		})
	}
}

// stop ends the workers once the queue is drained.
func (p *workers) stop() {
	if p.started {
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
	p.work <- j
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

// writeFile creates base in d from data under a temporary name, applies e's
// metadata and renames it into place without replacing anything.
func writeFile(d *fsmeta.Dir, base string, data []byte, e *format.Entry) (error, error) {
	dfd := int(d.File().Fd())
	dest := path.Join(d.Name(), base)
	// No lstat first: a restore usually fills an empty destination, and
	// the rename below refuses an existing name anyway.
	tmpBase := path.Base(tempName(base))
	f, err := d.Create(tmpBase, 0o600)
	if err != nil {
		return err, nil
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		unix.Unlinkat(dfd, tmpBase, 0)
		return err, nil
	}
	merr := d.Apply(tmpBase, e)
	if err := renameNoReplace(dfd, tmpBase, dfd, base); err != nil {
		unix.Unlinkat(dfd, tmpBase, 0)
		if errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("%w: %q", ErrExists, dest), nil
		}
		return &os.PathError{Op: "rename", Path: dest, Err: err}, nil
	}
	return nil, merr
}

// renameNoReplace renames within one directory, refusing to replace an
// existing name (EEXIST); file systems without RENAME_NOREPLACE get an
// lstat, then a plain rename.
func renameNoReplace(dfd int, from string, tofd int, to string) error {
	err := unix.Renameat2(dfd, from, tofd, to, unix.RENAME_NOREPLACE)
	if err == unix.EINVAL || err == unix.ENOSYS {
		var st unix.Stat_t
		if err = unix.Fstatat(tofd, to, &st, unix.AT_SYMLINK_NOFOLLOW); err == nil {
			return unix.EEXIST
		}
		err = unix.Renameat(dfd, from, tofd, to)
	}
	return err
}

// sliceWriter collects a small file's data.
type sliceWriter struct{ b []byte }

func (w *sliceWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}
