package tarengine

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path"
	"slices"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"ferry/internal/format"
	"ferry/internal/fsmeta"
)

// Pipeline sizes: items in flight between the walker and the stream writer
// (each may hold an open file), metadata/prefetch workers, and the bytes of
// small files read ahead.
const (
	pipelineDepth = 256
	workers       = 4
	prefetchMax   = 1 << 20  // files up to this size are read ahead whole
	prefetchBytes = 64 << 20 // total read-ahead
)

// item is one file on its way from the walker to the stream writer. The
// walker fills name, st and kind; a worker fills entry, data or file and err,
// then closes ready.
type item struct {
	name     string
	st       unix.Stat_t
	link     *item // HardLink: the item that carries the data
	children []child
	parent   uint64 // inode of the parent directory (dir file history)
	listing  bool   // directory whose names go into the incremental listing

	entry *format.Entry
	data  []byte
	file  *os.File
	err   error
	ready chan struct{}

	offset int64 // stream offset of the header, set by the writer
	held   int64 // prefetch bytes to release after writing
}

type child struct {
	name string
	ino  uint64
}

// errSocket reports a file tar cannot hold (a socket, or a kind Linux
// added later); GNU tar skips them too.
var errSocket = errors.New("tarengine: sockets cannot be stored in a tar stream")

// walkOpts is what the walker needs from the backup's environment.
type walkOpts struct {
	exclude []string
	files   []string   // roots to walk; [.] for the whole tree
	since   *time.Time // incremental: changed at or after
	dev     uint64     // the file system not to leave
}

// walker traverses the tree depth first, in name order, and emits items in
// stream order; workers complete them concurrently.
type walker struct {
	ctx   context.Context
	root  *os.Root
	opts  walkOpts
	order chan *item
	work  chan *item
	links map[[2]uint64]*item
	warn  func(name string, err error)
	mem   chan struct{} // tokens of 64 KiB of prefetch memory
	meta  *fsmeta.FS
}

const memUnit = 64 << 10

func newWalker(ctx context.Context, root *os.Root, o walkOpts, meta *fsmeta.FS, warn func(string, error)) *walker {
	return &walker{
		ctx: ctx, root: root, opts: o, meta: meta, warn: warn,
		order: make(chan *item, pipelineDepth),
		work:  make(chan *item, pipelineDepth),
		links: map[[2]uint64]*item{},
		mem:   make(chan struct{}, prefetchBytes/memUnit),
	}
}

// start runs the walker and the workers; order is closed when all is emitted.
func (w *walker) start() {
	var wg sync.WaitGroup
	for range workers {
		wg.Go(w.worker)
	}
	go func() {
		w.walk()
		close(w.work)
		wg.Wait()
		close(w.order)
	}()
}

func (w *walker) walk() {
	for _, f := range w.opts.files {
		var st unix.Stat_t
		if err := w.lstat(f, &st); err != nil {
			w.warn(f, err)
			continue
		}
		if !w.visit(f, &st, 0, w.opts.since == nil) {
			return
		}
	}
}

// visit emits name and, for a directory, its subtree. all forces every entry
// of the subtree into an incremental (a directory renamed since the base). It
// returns false when the job is cancelled.
func (w *walker) visit(name string, st *unix.Stat_t, parent uint64, all bool) bool {
	it := &item{name: name, st: *st, parent: parent, ready: make(chan struct{})}
	isDir := st.Mode&unix.S_IFMT == unix.S_IFDIR
	if !isDir {
		if !all && !w.changed(st) {
			return true
		}
		return w.emit(it)
	}
	if w.opts.since != nil && !all && w.renamed(st) {
		all = true
	}
	it.listing = w.opts.since != nil
	kids := w.readDir(name, st)
	for _, k := range kids {
		it.children = append(it.children, child{name: k.name, ino: k.st.Ino})
	}
	if !w.emit(it) {
		return false
	}
	for i := range kids {
		if !w.visit(kids[i].name, &kids[i].st, st.Ino, all) {
			return false
		}
	}
	return true
}

type kid struct {
	name string
	st   unix.Stat_t
}

// readDir lists a directory's children in byte order, lstat'ed, with
// exclusions applied; the contents of other file systems are left out.
func (w *walker) readDir(name string, st *unix.Stat_t) []kid {
	if uint64(st.Dev) != w.opts.dev {
		return nil
	}
	f, err := w.root.Open(name)
	if err != nil {
		w.warn(name, err)
		return nil
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		w.warn(name, err)
	}
	slices.Sort(names)
	kids := make([]kid, 0, len(names))
	dfd := int(f.Fd())
	for _, n := range names {
		full := path.Join(name, n)
		if w.excluded(n, full) {
			continue
		}
		k := kid{name: full}
		// relative to the open directory: no path walk per child
		if err := unix.Fstatat(dfd, n, &k.st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			w.warn(full, &os.PathError{Op: "lstat", Path: full, Err: err})
			continue
		}
		kids = append(kids, k)
	}
	return kids
}

func (w *walker) lstat(name string, st *unix.Stat_t) error {
	fi, err := w.root.Lstat(name)
	if err != nil {
		return err
	}
	s, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return errors.New("tarengine: no stat data")
	}
	*st = unix.Stat_t{Dev: s.Dev, Ino: s.Ino, Nlink: s.Nlink, Mode: s.Mode,
		Ctim: unix.Timespec(s.Ctim), Mtim: unix.Timespec(s.Mtim)}
	return nil
}

func (w *walker) excluded(base, full string) bool {
	for _, p := range w.opts.exclude {
		if ok, _ := path.Match(p, base); ok {
			return true
		}
		if ok, _ := path.Match(p, full); ok {
			return true
		}
	}
	return false
}

// changed reports whether a file's inode changed at or after the base time.
func (w *walker) changed(st *unix.Stat_t) bool {
	if w.opts.since == nil {
		return true
	}
	return !time.Unix(st.Ctim.Sec, st.Ctim.Nsec).Before(*w.opts.since)
}

// renamed reports a directory that may have been renamed or moved since the
// base: its inode changed (ctime) after its contents last did (mtime), as a
// rename does and a change of entries does not (it sets both). Its unchanged
// children now live under new names, so the whole subtree is stored.
func (w *walker) renamed(st *unix.Stat_t) bool {
	ctime := time.Unix(st.Ctim.Sec, st.Ctim.Nsec)
	return !ctime.Before(*w.opts.since) && ctime.After(time.Unix(st.Mtim.Sec, st.Mtim.Nsec))
}

// emit decides hard links (in stream order) and queues the item.
func (w *walker) emit(it *item) bool {
	if it.st.Mode&unix.S_IFMT == unix.S_IFREG && it.st.Nlink > 1 {
		key := [2]uint64{uint64(it.st.Dev), it.st.Ino}
		if first, ok := w.links[key]; ok {
			it.link = first
		} else {
			w.links[key] = it
		}
	}
	select {
	case w.work <- it:
	case <-w.ctx.Done():
		return false
	}
	select {
	case w.order <- it:
	case <-w.ctx.Done():
		return false
	}
	return true
}

// worker reads metadata and opens or prefetches file data.
func (w *walker) worker() {
	for it := range w.work {
		w.prepare(it)
		close(it.ready)
	}
}

func (w *walker) prepare(it *item) {
	if w.ctx.Err() != nil {
		it.err = w.ctx.Err()
		return
	}
	e, err := w.meta.Lstat(it.name)
	if e == nil {
		it.err = err
		return
	}
	if err != nil {
		w.warn(it.name, err) // partial metadata: the rest is backed up
	}
	if e.Type == 0 {
		it.err = errSocket
		return
	}
	it.entry = e
	if it.link != nil {
		e.Type = format.HardLink
		e.Linkname = it.link.name
		e.Size, e.Sparse = 0, nil
		return
	}
	if e.Type != format.Regular || e.DataSize() == 0 {
		return
	}
	w.openData(it)
}

// openData opens a regular file and reads it whole when it is small and
// prefetch memory is free; otherwise the writer streams from the open file.
func (w *walker) openData(it *item) {
	f, err := w.root.OpenFile(it.name, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NOATIME, 0)
	if errors.Is(err, fs.ErrPermission) {
		f, err = w.root.OpenFile(it.name, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	}
	if err != nil {
		it.err = err
		return
	}
	size := it.entry.DataSize()
	if it.entry.Sparse != nil || size > prefetchMax || !w.reserve(size) {
		adviseSequential(f)
		it.file = f
		return
	}
	it.held = size
	buf := make([]byte, size)
	n, err := f.ReadAt(buf, 0)
	f.Close()
	if n < len(buf) && err != nil {
		it.data = buf[:n] // the file shrank: the writer pads and warns
		return
	}
	it.data = buf
}

func (w *walker) units(n int64) int { return int((n + memUnit - 1) / memUnit) }

// reserve takes prefetch memory without waiting (waiting could deadlock the
// in-order writer behind later items).
func (w *walker) reserve(n int64) bool {
	u := w.units(n)
	for i := range u {
		select {
		case w.mem <- struct{}{}:
		default:
			w.release(int64(i) * memUnit)
			return false
		}
	}
	return true
}

func (w *walker) release(n int64) {
	for range w.units(n) {
		<-w.mem
	}
}

// adviseSequential asks the kernel to read a large file ahead while the
// writer streams it.
func adviseSequential(f *os.File) {
	unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_SEQUENTIAL)
	unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_WILLNEED)
}
