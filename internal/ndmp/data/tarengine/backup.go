package tarengine

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"ferry/internal/format"
	"ferry/internal/fsmeta"
	"ferry/internal/ndmp/data"
	"ferry/internal/ndmp/wire"
	"ferry/internal/restore"
)

// Backup writes the pax stream of FILESYSTEM to job.Stream.
func (e *Engine) Backup(ctx context.Context, job *data.Job) error {
	lg := logger{job: job, log: e.log}
	env, err := parseBackupEnv(job.Env, e.cfg.Snapshot)
	if err != nil {
		return lg.illegal(err)
	}
	dir, err := resolveExported(env.filesystem, e.cfg.Exports)
	if err != nil {
		return lg.illegal(err)
	}
	base, err := e.baseToken(env, dir)
	if err != nil {
		return lg.illegal(err)
	}
	var since *time.Time
	var retry map[string]bool
	if base != nil {
		t := base.Start
		since = &t
		if retry, err = e.missed.load(dir, *base); err != nil {
			lg.message(wire.LogWarning, "files the base backup left out: %v", err)
		}
	}
	// ctime comes from the kernel's coarse clock (a tick behind real time):
	// starting the token earlier keeps a change made just after it from
	// looking older than the token.
	start := time.Now().Add(-ctimeSlack)
	src := dir
	if env.snapshot {
		snap, err := takeSnapshot(ctx, dir)
		if err != nil {
			lg.message(wire.LogError, "SNAPSHOT=y: %v", err)
			return fmt.Errorf("tarengine: snapshot: %w", err)
		}
		defer func() {
			if err := snap.release(); err != nil {
				lg.message(wire.LogWarning, "releasing snapshot %s: %v", snap.path, err)
			}
		}()
		lg.message(wire.LogNormal, "backing up from snapshot %s", snap.path)
		src = snap.dir
	}
	st, err := e.run(ctx, job, lg, env, src, since, retry)
	if err != nil {
		return err
	}
	tok := Token{Start: start, Level: env.level}
	job.SetEnv("DUMP_DATE", tok.String())
	if err := e.missed.save(dir, tok, st.missed); err != nil {
		lg.message(wire.LogWarning, "remembering the files left out for the next incremental: %v", err)
	}
	if e.dates != nil && env.update {
		if err := e.dates.record(dir, tok); err != nil {
			lg.message(wire.LogWarning, "UPDATE: %v", err)
		}
	}
	lg.message(wire.LogNormal, "tar backup of %s: %d entries, %d bytes, %d file history entries, %d problems",
		dir, st.entries, st.bytes, st.history, st.problems.Load())
	return nil
}

// ctimeSlack covers the coarse clock that stamps ctime (one tick, 1-10 ms).
const ctimeSlack = 50 * time.Millisecond

// baseToken decides what an incremental includes: changes since BASE_DATE,
// else since the newest lower LEVEL in the dump dates, else everything (nil).
func (e *Engine) baseToken(env *backupEnv, dir string) (*Token, error) {
	if env.base != nil {
		return env.base, nil
	}
	if env.level == 0 {
		return nil, nil
	}
	if e.dates == nil {
		return nil, fmt.Errorf("%w: LEVEL=%d needs BASE_DATE (this agent keeps no dump dates)", ErrBadEnv, env.level)
	}
	tok, ok, err := e.dates.base(dir, env.level)
	if err != nil || !ok {
		return nil, err
	}
	return &tok, nil
}

type backupStats struct {
	entries, bytes, history int64
	problems                atomic.Int64 // also counted by the walker

	mu     sync.Mutex
	missed []string // names left out or stored incomplete
}

// problem counts a name not (fully) backed up and remembers it for the
// next incremental.
func (st *backupStats) problem(name string) {
	st.problems.Add(1)
	st.mu.Lock()
	st.missed = append(st.missed, name)
	st.mu.Unlock()
}

// run walks dir and writes the stream.
func (e *Engine) run(ctx context.Context, job *data.Job, lg logger, env *backupEnv, dir string, since *time.Time, retry map[string]bool) (*backupStats, error) {
	st := &backupStats{}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return st, lg.illegal(err)
	}
	defer root.Close()
	fi, err := root.Lstat(".")
	if err != nil {
		return st, err
	}
	var hist *history
	if env.hist != histNone {
		hist = newHistory(ctx, job.Post)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	files := env.files
	if len(files) == 0 {
		files = []string{"."}
	}
	fsm := fsmeta.New(root)
	defer fsm.Close()
	w := newWalker(ctx, root, walkOpts{
		exclude: env.exclude, files: files, since: since, retry: retry,
		dev:     uint64(fi.Sys().(*syscall.Stat_t).Dev),
		protect: e.protected(),
	}, fsm, func(n string, err error) { warnLater(ctx, lg, st, n, err) },
		func(n, why string) { lg.message(wire.LogNormal, "%s: %s; not backed up", fhPath(n), why) })
	w.stop = cancel
	w.start()
	sw := &streamWriter{w: format.NewWriter(job.Stream), hist: hist, kind: env.hist,
		lg: lg, walker: w, st: st, incremental: since != nil, sums: hist != nil && job.Checksums}
	err = sw.writeAll(ctx)
	if errors.Is(err, errNoDescriptors) {
		lg.message(wire.LogError, "%v", err)
	}
	cancel(nil)
	for it := range w.order { // let the walker and workers finish
		sw.discard(it)
	}
	if hist != nil {
		st.history = int64(hist.close())
	}
	return st, err
}

// protected returns ferry's own files by device and inode: its state
// directory (cartridges, catalog) and Config.Protect. A backup of a tree
// holding them would otherwise store its own cartridges, doubling each time.
func (e *Engine) protected() map[[2]uint64]string {
	m := map[[2]uint64]string{}
	add := func(p, why string) {
		var st syscall.Stat_t
		if p != "" && syscall.Stat(p, &st) == nil {
			m[[2]uint64{uint64(st.Dev), st.Ino}] = why
		}
	}
	add(e.cfg.StateDir, "ferry's state directory (cartridges, catalog)")
	for _, p := range e.cfg.Protect {
		add(p, "ferry's own file (catalog or cartridge)")
	}
	return m
}

// warnLater reports a walker problem (file vanished, unreadable directory).
func warnLater(ctx context.Context, lg logger, st *backupStats, name string, err error) {
	if ctx.Err() != nil {
		return
	}
	st.problem(name)
	lg.message(wire.LogWarning, "%s: %v", fhPath(name), err)
}

// streamWriter writes items in order and feeds file history.
type streamWriter struct {
	w           *format.Writer
	hist        *history
	kind        histKind
	lg          logger
	walker      *walker
	st          *backupStats
	incremental bool
	listing     restore.Listing
	rootDone    bool
	sums        bool   // post data checksums (the DMA selected ferry's extension)
	crc         uint32 // CRC-32C of the current entry's data
	crcOK       bool   // crc covers the entry's data as streamed
}

func (s *streamWriter) writeAll(ctx context.Context) error {
	for it := range s.walker.order {
		if ctx.Err() != nil {
			s.discard(it)
			return context.Cause(ctx)
		}
		<-it.ready
		err := s.write(it)
		s.walker.written.Add(1)
		if err != nil {
			s.discard(it)
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.incremental {
		if err := s.writeListing(); err != nil {
			return err
		}
	}
	if err := s.w.Close(); err != nil {
		return streamErr(err)
	}
	return nil
}

// discard releases what an item holds (its open file, its directory);
// calling it again does nothing.
func (s *streamWriter) discard(it *item) {
	<-it.ready
	it.releaseDir()
	if it.file != nil {
		it.file.Close()
		it.file = nil
	}
	if it.token {
		<-s.walker.held
		it.token = false
	}
}

// write writes one item: header, data, file history. Per-file problems are
// logged and skipped; only stream failures are returned.
func (s *streamWriter) write(it *item) error {
	if it.listing {
		s.listing.Add(it.name, childNames(it.children))
	}
	if errors.Is(it.err, errSocket) {
		s.lg.message(wire.LogNormal, "%s: socket ignored", fhPath(it.name))
		return nil
	}
	if errors.Is(it.err, errNoDescriptors) {
		return it.err
	}
	if it.err != nil {
		s.st.problem(it.name)
		s.lg.message(wire.LogWarning, "%s: not backed up: %v", fhPath(it.name), it.err)
		return nil
	}
	defer s.discard(it)
	if it.reopen {
		f, err := s.walker.open(it)
		it.releaseDir()
		if errors.Is(err, errNoDescriptors) {
			return err
		}
		if err != nil {
			s.st.problem(it.name)
			s.lg.message(wire.LogWarning, "%s: not backed up: %v", fhPath(it.name), err)
			return nil
		}
		if it.entry.Size >= adviseMin {
			adviseSequential(f)
		}
		it.file = f
	}
	it.offset = s.w.Offset()
	if err := s.w.WriteHeader(it.entry); err != nil {
		if errors.Is(err, format.ErrEntry) {
			s.st.problem(it.name)
			s.lg.message(wire.LogWarning, "%s: not backed up: %v", fhPath(it.name), err)
			return nil
		}
		return streamErr(err)
	}
	if err := s.writeData(it); err != nil {
		return err
	}
	s.st.entries++
	s.addHistory(it)
	return nil
}

func (s *streamWriter) writeData(it *item) error {
	var err error
	var n int64
	s.crc, s.crcOK = 0, s.sums
	switch {
	case it.file != nil:
		if s.sums {
			cr := &crcReaderAt{ra: it.file}
			n, err = s.w.CopyFrom(cr)
			s.crc = cr.crc
		} else {
			n, err = s.w.CopyFrom(it.file)
		}
	default:
		return nil
	}
	s.st.bytes += n
	if err == nil && n == it.entry.DataSize() {
		return nil
	}
	s.crcOK = false
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !isFileErr(err) {
		return streamErr(err)
	}
	// the file shrank or failed while read: keep the stream consistent
	if _, ferr := s.w.FillZeros(); ferr != nil {
		return streamErr(ferr)
	}
	s.st.problem(it.name)
	s.lg.message(wire.LogWarning, "%s: changed while read (%d of %d bytes), padded with zeros",
		fhPath(it.name), n, it.entry.DataSize())
	return nil
}

func isFileErr(err error) bool {
	var pe *os.PathError
	return errors.As(err, &pe)
}

// streamError marks a failure writing the data connection.
type streamError struct{ err error }

func (e *streamError) Error() string { return "tarengine: stream: " + e.err.Error() }
func (e *streamError) Unwrap() error { return e.err }

func streamErr(err error) error { return &streamError{err} }

func childNames(cs []child) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = path.Base(c.name)
	}
	return out
}

// writeListing appends the incremental listing (every directory's names).
func (s *streamWriter) writeListing() error {
	b := s.listing.Encode()
	e := &format.Entry{Name: restore.ListingName, Type: format.Regular, Mode: 0o600,
		Size: int64(len(b)), ModTime: time.Now()}
	if err := s.w.WriteHeader(e); err != nil {
		return streamErr(err)
	}
	if _, err := s.w.Write(b); err != nil {
		return streamErr(err)
	}
	return nil
}

// castagnoli is CRC-32C's table (hardware-assisted where the CPU has it).
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// crcReaderAt checksums what a sequential reader reads.
type crcReaderAt struct {
	ra  io.ReaderAt
	crc uint32
}

func (c *crcReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.ra.ReadAt(p, off)
	c.crc = crc32.Update(c.crc, castagnoli, p[:n])
	return n, err
}

// addHistory queues the item's file history, and its data's checksum.
func (s *streamWriter) addHistory(it *item) {
	if s.hist == nil {
		return
	}
	if s.crcOK && it.link == nil && it.entry.Type == format.Regular {
		s.hist.add(fhItem{kind: fhSum, sum: wire.FhChecksum{FhInfo: uint64(it.offset), CRC32C: s.crc}})
	}
	off := it.offset
	st := fileStat(it.entry, uint32(it.st.Nlink))
	if it.link != nil {
		off = it.link.offset // DAR of any name reads the data
		st.Size = uint64(max(it.link.entry.Size, 0))
	}
	switch s.kind {
	case histFile:
		s.hist.add(fhItem{kind: fhFile, file: wire.FhFile{
			Names: unixName(fhPath(it.name)),
			Stats: []wire.FileStat{st},
			Node:  it.st.Ino, FhInfo: uint64(off),
		}})
	case histDir:
		s.addDirHistory(it, off)
	}
}

// addDirHistory follows the v4 rules (spec §4.3.2): the root's "." and ".."
// first; a directory's ".", ".." and all its entries together when the
// directory is written (before any child's node); one node per inode.
func (s *streamWriter) addDirHistory(it *item, off int64) {
	if it.entry.Type == format.Dir {
		parent := it.parent
		if !s.rootDone {
			parent, s.rootDone = it.st.Ino, true
		}
		s.dirEntry(".", it.st.Ino, it.st.Ino)
		s.dirEntry("..", parent, it.st.Ino)
		for _, c := range it.children {
			s.dirEntry(path.Base(c.name), c.ino, it.st.Ino)
		}
	}
	if it.link != nil {
		return
	}
	s.hist.add(fhItem{kind: fhNode, node: wire.FhNode{
		Stats: []wire.FileStat{fileStat(it.entry, uint32(it.st.Nlink))},
		Node:  it.st.Ino, FhInfo: uint64(off),
	}})
}

func (s *streamWriter) dirEntry(name string, node, parent uint64) {
	s.hist.add(fhItem{kind: fhDir, dir: wire.FhDir{Names: unixName(name), Node: node, Parent: parent}})
}
