package tarengine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"ferry/internal/format"
	"ferry/internal/fsmeta"
)

// Pipeline sizes: items in flight between the walker and the stream writer
// (each may hold an open file), and the workers that read metadata and open
// files. The writer reads every file itself, straight into the data
// connection's buffer: reading small files ahead into memory of their own
// cost an allocation, its zeroing and a copy per byte, more than the
// overlap won (a third of a backup's user time on issue 14's tree).
const (
	pipelineDepth = 256
	workers       = 4
	adviseMin     = 1 << 20 // files from this size get read-ahead advice
)

// item is one file on its way from the walker to the stream writer. The
// walker fills name, st and kind; a worker fills entry, data or file and err,
// then closes ready.
type item struct {
	name     string
	dir      *dirRef // the open parent directory (nil for a walk root)
	st       unix.Stat_t
	link     *item // HardLink: the item that carries the data
	children []child
	parent   uint64 // inode of the parent directory (dir file history)
	listing  bool   // directory whose names go into the incremental listing

	entry *format.Entry
	file  *fsmeta.File
	// reopen: the data is streamed but no descriptor was spare to hold
	// the file open in the pipeline; the writer opens it when it gets
	// there.
	reopen bool
	token  bool // file holds one of walker.held
	err    error
	ready  chan struct{}

	offset int64 // stream offset of the header, set by the writer
}

type child struct {
	name string
	ino  uint64
}

// dirRef is an open directory shared by the walker and the workers that read
// its entries: each worker stats and opens relative to it (no path walk per
// file, and Dir.Open cannot hang on a FIFO swapped in). The last user closes it.
type dirRef struct {
	d      *fsmeta.Dir
	refs   atomic.Int32
	tokens chan struct{} // the walker's dirs budget, when this one took a token
}

func newDirRef(d *fsmeta.Dir) *dirRef {
	r := &dirRef{d: d}
	r.refs.Store(1)
	return r
}

func (r *dirRef) hold() { r.refs.Add(1) }

func (r *dirRef) release() {
	if r.refs.Add(-1) == 0 {
		r.d.Close()
		if r.tokens != nil {
			<-r.tokens
		}
	}
}

// errSocket reports a file tar cannot hold (a socket, or a kind Linux
// added later); GNU tar skips them too.
var errSocket = errors.New("tarengine: sockets cannot be stored in a tar stream")

// walkOpts is what the walker needs from the backup's environment.
type walkOpts struct {
	exclude []string
	// protect: files and directories never backed up, by device and
	// inode (ferry's own state: catalog, cartridges), with the message
	// the job log gets for each.
	protect map[[2]uint64]string
	files   []string   // roots to walk; [.] for the whole tree
	since   *time.Time // incremental: changed at or after
	// retry: names the base backup left out (unreadable then): stored
	// whether they changed or not, a directory with its whole subtree.
	retry map[string]bool
	dev   uint64 // the file system not to leave
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
	// held: tokens for descriptors items keep open in the pipeline, a
	// share of those the process may still open, so the file the writer
	// waits for always finds one.
	held chan struct{}
	fsm  *fsmeta.FS
	// stop ends the backup when the walker cannot go on (set before the
	// walk starts).
	stop context.CancelCauseFunc
	// opened is when an open last succeeded (UnixNano).
	opened atomic.Int64
	// dirs: tokens for the directories the pipeline holds open (the
	// walker's path and the parents of queued items), a quarter of the
	// descriptors the process could still open, so queued items cannot
	// hold every descriptor the workers need to finish them.
	dirs    chan struct{}
	emitted int64        // items emitted (the walker's)
	written atomic.Int64 // items the writer is done with
	// note reports something left out on purpose (info, not a problem).
	note func(name, why string)
}

func newWalker(ctx context.Context, root *os.Root, o walkOpts, meta *fsmeta.FS, warn func(string, error), note func(name, why string)) *walker {
	w := &walker{
		ctx: ctx, root: root, opts: o, fsm: meta, warn: warn, note: note,
		order: make(chan *item, pipelineDepth),
		work:  make(chan *item, pipelineDepth),
		links: map[[2]uint64]*item{},
		held:  make(chan struct{}, spareShare()),
		dirs:  make(chan struct{}, spareShare()),
	}
	w.opened.Store(time.Now().UnixNano())
	return w
}

// spareShare is a quarter of the descriptors the process can still open,
// at least one and at most one per item the pipeline holds (two queues of
// pipelineDepth): the budget of
// files kept open for the writer, and that of open directories.
func spareShare() int {
	var lim unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_NOFILE, &lim) != nil {
		return pipelineDepth
	}
	open := pipelineDepth
	if ents, err := os.ReadDir("/proc/self/fd"); err == nil {
		open = len(ents)
	}
	return int(min(max((int64(lim.Cur)-int64(open))/4, 1), 2*pipelineDepth))
}

// fdWaitMax bounds how long the walker waits while no open succeeds for
// want of a descriptor: then the process's limit is too low to back up
// anything, and the job fails saying so.
var fdWaitMax = 20 * time.Second

// errNoDescriptors ends a backup that could open no file for fdWaitMax.
var errNoDescriptors = errors.New("tarengine: out of file descriptors")

// retryFD runs op until it no longer fails for want of a descriptor
// (EMFILE, ENFILE). Running out is transient: items ahead in the pipeline
// and other sessions close theirs, so a file is never left out for it;
// only a walker starved of descriptors for fdWaitMax gives up.
func (w *walker) retryFD(op func() error) error {
	delay := time.Millisecond
	for {
		err := op()
		if !outOfFDs(err) {
			if err == nil {
				w.opened.Store(time.Now().UnixNano())
			}
			return err
		}
		if time.Since(time.Unix(0, w.opened.Load())) > fdWaitMax {
			var lim unix.Rlimit
			unix.Getrlimit(unix.RLIMIT_NOFILE, &lim)
			return fmt.Errorf("%w: none came free in %v (this process may open %d; raise ulimit -n): %w", errNoDescriptors, fdWaitMax, lim.Cur, err)
		}
		t := time.NewTimer(delay)
		select {
		case <-w.ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		delay = min(delay*2, 100*time.Millisecond)
	}
}

func outOfFDs(err error) bool {
	return errors.Is(err, unix.EMFILE) || errors.Is(err, unix.ENFILE)
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
		if !w.visit(f, nil, &st, 0, w.opts.since == nil) {
			return
		}
	}
}

// visit emits name and, for a directory, its subtree. pdir is name's open
// parent (nil for a walk root). all forces every entry of the subtree into an
// incremental (a directory renamed since the base). It returns false when the
// job is cancelled.
func (w *walker) visit(name string, pdir *dirRef, st *unix.Stat_t, parent uint64, all bool) bool {
	it := &item{name: name, st: *st, parent: parent, ready: make(chan struct{})}
	isDir := st.Mode&unix.S_IFMT == unix.S_IFDIR
	if !isDir {
		if !all && !w.changed(st) && !w.opts.retry[name] {
			return true
		}
		return w.emit(it, pdir)
	}
	if w.opts.since != nil && !all && (w.renamed(st) || w.opts.retry[name]) {
		all = true
	}
	it.listing = w.opts.since != nil
	d, kids := w.readDir(name, pdir, st)
	if d != nil {
		defer d.release()
	}
	for _, k := range kids {
		it.children = append(it.children, child{name: k.name, ino: k.st.Ino})
	}
	if !w.emit(it, pdir) {
		return false
	}
	for i := range kids {
		if !w.visit(kids[i].name, d, &kids[i].st, st.Ino, all) {
			return false
		}
	}
	return true
}

type kid struct {
	name string
	st   unix.Stat_t
}

// readDir opens a directory and lists its children in byte order, lstat'ed,
// with exclusions applied; the contents of other file systems are left out.
// The open directory is returned for the children's workers; release it.
func (w *walker) readDir(name string, pdir *dirRef, st *unix.Stat_t) (*dirRef, []kid) {
	if uint64(st.Dev) != w.opts.dev {
		return nil, nil
	}
	d, err := w.openDir(name, pdir)
	if errors.Is(err, errNoDescriptors) {
		w.stop(err)
		return nil, nil
	}
	if err != nil {
		w.warn(name, err)
		return nil, nil
	}
	// reading moves the descriptor's offset; the workers only use it as the
	// base of *at calls, which ignore it
	names, err := d.d.File().Readdirnames(-1)
	if err != nil {
		w.warn(name, err)
	}
	slices.Sort(names)
	kids := make([]kid, 0, len(names))
	dfd := int(d.d.File().Fd())
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
		if why, ok := w.opts.protect[[2]uint64{uint64(k.st.Dev), k.st.Ino}]; ok {
			w.note(full, why)
			continue
		}
		kids = append(kids, k)
	}
	return d, kids
}

// openDir opens name relative to its open parent (never through a symlink)
// or, for a walk root, from the root.
func (w *walker) openDir(name string, pdir *dirRef) (*dirRef, error) {
	tokens := w.dirToken()
	var d *fsmeta.Dir
	err := w.retryFD(func() (err error) {
		if pdir != nil {
			d, err = pdir.d.OpenDir(path.Base(name))
		} else {
			d, err = w.fsm.OpenDir(name)
		}
		return err
	})
	if err != nil {
		if tokens != nil {
			<-tokens
		}
		return nil, err
	}
	r := newDirRef(d)
	r.tokens = tokens
	return r, nil
}

// dirToken takes a token of the directories budget, waiting for queued
// items to release theirs; it returns the budget (nil: none taken). When
// the writer has caught up, only the walker's own path holds tokens (a
// tree deeper than the budget): the directory is opened over budget.
func (w *walker) dirToken() chan struct{} {
	for {
		select {
		case w.dirs <- struct{}{}:
			return w.dirs
		default:
		}
		if w.written.Load() >= w.emitted || w.ctx.Err() != nil {
			return nil
		}
		time.Sleep(time.Millisecond)
	}
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

// emit decides hard links (in stream order) and queues the item; pdir, its
// open parent, is held until a worker has prepared it.
func (w *walker) emit(it *item, pdir *dirRef) bool {
	if it.st.Mode&unix.S_IFMT == unix.S_IFREG && it.st.Nlink > 1 {
		key := [2]uint64{uint64(it.st.Dev), it.st.Ino}
		if first, ok := w.links[key]; ok {
			it.link = first
		} else {
			w.links[key] = it
		}
	}
	if pdir != nil {
		pdir.hold()
		it.dir = pdir
	}
	select {
	case w.work <- it:
	case <-w.ctx.Done():
		it.releaseDir()
		return false
	}
	select {
	case w.order <- it:
	case <-w.ctx.Done():
		return false
	}
	w.emitted++
	return true
}

// worker reads metadata and opens or prefetches file data.
func (w *walker) worker() {
	for it := range w.work {
		w.prepare(it)
		if !it.reopen { // else the writer opens the file in it.dir
			it.releaseDir()
		}
		close(it.ready)
	}
}

func (it *item) releaseDir() {
	if it.dir != nil {
		it.dir.release()
		it.dir = nil
	}
}

// meta reads the item's metadata: a walk root by name, any other item from
// the walk's own lstat of it (no second stat) relative to its open parent.
func (w *walker) meta(it *item) (*format.Entry, error) {
	if it.dir == nil {
		return w.fsm.Lstat(it.name)
	}
	e, err := it.dir.d.Entry(path.Base(it.name), &it.st, nil)
	if e != nil {
		e.Name = it.name
	}
	return e, err
}

func (w *walker) prepare(it *item) {
	if w.ctx.Err() != nil {
		it.err = w.ctx.Err()
		return
	}
	if it.dir != nil && it.link == nil && it.st.Mode&unix.S_IFMT == unix.S_IFREG && it.st.Size > 0 {
		w.prepareFile(it)
		return
	}
	var e *format.Entry
	err := w.retryFD(func() (err error) {
		e, err = w.meta(it)
		return err
	})
	if e == nil {
		it.err = err
		return
	}
	if err != nil {
		w.warn(it.name, err) // partial metadata: the rest is backed up
	}
	if e.Type == 0 {
		it.err = errSocket // GNU tar leaves sockets out too
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

// prepareFile opens a regular file (not a walk root) and reads its xattrs
// and sparse map through the descriptor (no lookup by name); the writer
// streams from the open file. Per file: openat, fstat (the type check),
// flistxattr; the writer's reads; close.
func (w *walker) prepareFile(it *item) {
	if !w.holdToken() {
		// no descriptor to spare: metadata by name, the writer opens it
		it.reopen = true
		w.entry(it, nil)
		return
	}
	f, err := w.open(it)
	if err != nil {
		<-w.held
		it.err = err
		return
	}
	if !w.entry(it, f) {
		f.Close()
		<-w.held
		return
	}
	w.keep(it, f)
}

// holdToken takes a held-file token without waiting; false when no
// descriptor can be spared (the writer then opens the file itself).
func (w *walker) holdToken() bool {
	select {
	case w.held <- struct{}{}:
		return true
	default:
		return false
	}
}

// keep puts the open file f, which holds a token, in it for the writer.
func (w *walker) keep(it *item, f *fsmeta.File) {
	if it.entry.Size >= adviseMin {
		adviseSequential(f)
	}
	it.file, it.token = f, true
}

// entry fills it.entry from the walk's stat, through f when open; it
// reports false (it.err set) when nothing could be read.
func (w *walker) entry(it *item, f *fsmeta.File) bool {
	var e *format.Entry
	err := w.retryFD(func() (err error) {
		e, err = it.dir.d.Entry(path.Base(it.name), &it.st, f)
		return err
	})
	if e == nil {
		it.err = err
		return false
	}
	if err != nil {
		w.warn(it.name, err) // partial metadata: the rest is backed up
	}
	e.Name = it.name
	it.entry = e
	return true
}

// openData opens a regular file for the writer to stream.
func (w *walker) openData(it *item) {
	if !w.holdToken() {
		it.reopen = true // no descriptor to spare: the writer opens it
		return
	}
	f, err := w.open(it)
	if err != nil {
		<-w.held
		it.err = err
		return
	}
	w.keep(it, f)
}

// open opens a regular file relative to its open parent: never through a
// symlink, never blocking on a FIFO swapped in, O_NOATIME where allowed.
func (w *walker) open(it *item) (f *fsmeta.File, err error) {
	err = w.retryFD(func() error {
		if it.dir != nil {
			f, err = it.dir.d.OpenFile(path.Base(it.name))
			return err
		}
		d, err := w.fsm.OpenDir(path.Dir(it.name))
		if err != nil {
			return err
		}
		defer d.Close()
		f, err = d.OpenFile(path.Base(it.name))
		return err
	})
	return f, err
}

// adviseSequential asks the kernel to read a large file ahead while the
// writer streams it.
func adviseSequential(f *fsmeta.File) {
	unix.Fadvise(f.Fd(), 0, 0, unix.FADV_SEQUENTIAL)
	unix.Fadvise(f.Fd(), 0, 0, unix.FADV_WILLNEED)
}
