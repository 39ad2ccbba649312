package restore

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"ferry/internal/format"
	"ferry/internal/fsmeta"
)

// Errors of an entry's Result (wrapped with details).
var (
	ErrExists        = fmt.Errorf("restore: %w", fs.ErrExist)
	ErrSymlinkParent = errors.New("restore: parent is a symlink")
	ErrNotDir        = errors.New("restore: parent is not a directory")
	ErrLinkTarget    = errors.New("restore: hard link target not restored")
	ErrBadEntry      = errors.New("restore: unsupported entry")
	// ErrDamaged: a file's data does not match the checksum recorded when
	// it was backed up; the file is not restored (see Options.KeepDamaged).
	ErrDamaged = errors.New("restore: data differs from what was backed up")
)

// DamagedSuffix is appended to the name a damaged file is kept under
// (Options.KeepDamaged).
const DamagedSuffix = ".ferry-damaged"

// Source is a backup stream being read: format.Reader implements it.
type Source interface {
	// Next advances to the next entry (io.EOF at the end of the stream).
	Next() (*format.Entry, error)
	// WriteTo writes the current entry's data to w, seeking over the holes of a
	// sparse file when w can seek.
	WriteTo(w io.Writer) (int64, error)
}

// Options control an extraction.
type Options struct {
	// Select maps a cleaned stream name to its destination name relative to the
	// root; ok false skips the entry. Nil restores every entry under its own name.
	Select func(name string) (dest string, ok bool)
	// Overwrite replaces existing files (never a non-empty directory by a file).
	Overwrite bool
	// Report receives the result of every entry, in stream order.
	Report func(Result)
	// ReadAt calls fn with a Source positioned at the header at stream offset
	// off, then returns the main stream to where it was. The Extractor uses it
	// for a hard link whose data lies under a name that was not selected; nil:
	// such links fail with ErrLinkTarget.
	ReadAt func(off int64, fn func(Source) error) error
	// Offset returns the stream offset of the current entry's header; with
	// ReadAt it locates skipped hard-link data.
	Offset func() int64
	// NumericOwner restores owners by id even when the names resolve.
	NumericOwner bool
	// Workers is how many goroutines write small files while Extract reads
	// the stream (0 or 1: the reading goroutine writes every file itself,
	// which measured fastest; see parallel.go).
	// Without Overwrite only; Report still sees stream order.
	Workers int

	// Checksum returns the CRC-32C recorded at backup time for the data of
	// the regular file whose header is at stream offset off (as
	// format.Reader.WriteDataTo writes it: a sparse file's data regions);
	// ok false: none recorded. A file that does not match fails with
	// ErrDamaged and does not stay under its name. Needs Offset (or, for
	// RestoreEntry, Offset too).
	Checksum func(off int64) (sum uint32, ok bool)
	// KeepDamaged keeps a file that fails its checksum under its name plus
	// DamagedSuffix instead of removing it (the entry still fails).
	KeepDamaged bool

	// Written collects the names this extraction creates or replaces; an
	// incremental's listing removes only names in it. Share one set across
	// the Extractors of a chain restore. Nil: the listing removes nothing
	// unless PruneExisting.
	Written *Written
	// PruneExisting lets the listing remove also names the restore did not
	// write (what the destination held before), within the selected part of
	// the tree: the user asked to overwrite.
	PruneExisting bool
	// NoPrune applies no listing: an earlier part of the restore failed,
	// and a failed restore removes nothing.
	NoPrune bool
	// Entries is how many entries the stream holds (its listing member
	// apart), from the catalog; 0: unknown. A stream that ends with fewer
	// makes Extract return a *ShortError (and apply no listing).
	Entries int64
}

// ShortError reports a stream that ended before delivering the entries
// Options.Entries announced.
type ShortError struct{ Want, Got int64 }

func (e *ShortError) Error() string {
	return fmt.Sprintf("restore: the stream ended after %d of its %d entries", e.Got, e.Want)
}

// Result is the outcome of one entry.
type Result struct {
	Name    string // name in the stream, as stored
	Dest    string // destination relative to the root ("" when skipped or unsafe)
	Type    format.Type
	Skipped bool  // not selected
	Err     error // nil: restored
	Meta    error // metadata that could not be applied (the entry is still restored)
}

// Summary counts an extraction's results.
type Summary struct {
	Restored, Skipped, Failed int
	Removed                   int   // names an incremental's listing no longer holds
	Bytes                     int64 // file data written
}

// Extractor restores a stream into root. Use it once.
type Extractor struct {
	root *os.Root
	opts Options
	fsm  *fsmeta.FS

	dirs     []pendingDir      // directory metadata, applied last
	verified map[string]bool   // parent directories known to be real directories
	links    map[string]string // stream name -> destination of restored regular files
	skipped  map[string]int64  // stream name -> header offset of unselected regular files
	sum      Summary
	tmps     map[string]bool // temporaries not yet renamed into place
	cur      *dirRef         // the directory of the last file
	listing  *Listing        // an incremental stream's listing, applied at the end
	pool     *workers        // nil: every file written in turn
}

type pendingDir struct {
	dest  string
	entry format.Entry
}

// New returns an Extractor writing under root.
func New(root *os.Root, opts Options) *Extractor {
	fsm := fsmeta.New(root)
	fsm.NumericOwner = opts.NumericOwner
	return &Extractor{
		root: root, opts: opts, fsm: fsm,
		verified: map[string]bool{".": true},
		links:    map[string]string{},
		skipped:  map[string]int64{},
		tmps:     map[string]bool{},
		pool:     newWorkers(opts.Workers),
	}
}

// Extract restores every entry of src. It stops at the end of the stream, at a
// stream error (returned) or when ctx ends; per-entry failures are reported and
// do not stop it. Directory metadata is applied before it returns, also on
// error, and no temporary file is left behind.
func (x *Extractor) Extract(ctx context.Context, src Source) (Summary, error) {
	defer x.cleanup()
	err := x.run(ctx, src)
	x.drain()
	if got := int64(x.sum.Restored + x.sum.Skipped + x.sum.Failed); err == nil && got < x.opts.Entries {
		err = &ShortError{Want: x.opts.Entries, Got: got}
	}
	// A failed restore removes nothing: the listing applies only when
	// every entry was restored.
	if err == nil && x.listing != nil && x.sum.Failed == 0 && !x.opts.NoPrune {
		x.applyListing()
	}
	x.finishDirs()
	return x.sum, err
}

// maxListing caps the listing member an incremental stream may carry.
const maxListing = 1 << 30

// readListing keeps an incremental stream's listing for the end.
func (x *Extractor) readListing(src Source, e *format.Entry) error {
	if e.Size > maxListing {
		return fmt.Errorf("%w: %d bytes", ErrListing, e.Size)
	}
	var b bytes.Buffer
	if _, err := src.WriteTo(&b); err != nil {
		return &streamError{err}
	}
	l, err := DecodeListing(b.Bytes())
	if err != nil {
		return err
	}
	x.listing = l
	return nil
}

// applyListing removes what the incremental's listing no longer holds,
// within the selected part of the tree.
func (x *Extractor) applyListing() {
	removed, err := ApplyListing(x.root, x.listing, x.opts.Select, Prune{Written: x.opts.Written, Existing: x.opts.PruneExisting})
	x.sum.Removed += len(removed)
	if err != nil && x.opts.Report != nil {
		x.opts.Report(Result{Name: ListingName, Err: err})
	}
}

func (x *Extractor) run(ctx context.Context, src Source) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		e, err := src.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("restore: after %d entries: %w", x.sum.Restored+x.sum.Skipped+x.sum.Failed, err)
		}
		var off int64 = -1
		if x.opts.Offset != nil {
			off = x.opts.Offset()
		}
		if err := x.entry(ctx, src, e, off); err != nil {
			return err
		}
	}
}

// entry restores one entry; only stream errors are returned.
func (x *Extractor) entry(ctx context.Context, src Source, e *format.Entry, off int64) error {
	res := Result{Name: e.Name, Type: e.Type}
	name, err := format.CleanName(e.Name)
	if err != nil {
		res.Err = err
		x.report(res)
		return nil
	}
	if name == ListingName && e.Type == format.Regular {
		if err := x.readListing(src, e); err != nil {
			if isStreamErr(err) {
				return err
			}
			res.Err = err
			x.report(res)
		}
		return nil
	}
	dest, ok := name, true
	if x.opts.Select != nil {
		dest, ok = x.opts.Select(name)
	}
	if !ok {
		if e.Type == format.Regular && off >= 0 {
			x.skipped[name] = off
		}
		res.Skipped = true
		x.report(res)
		return nil
	}
	res.Dest = dest
	if dest != "." && x.canQueue(e) {
		return x.queue(src, e, name, dest, off, res)
	}
	res.Err, res.Meta = x.restore(ctx, src, e, name, dest, off)
	if isStreamErr(res.Err) {
		return res.Err
	}
	x.report(res)
	return nil
}

// RestoreEntry restores the current entry of src (just returned by src.Next)
// under dest, whatever its name: direct access recovery reads one entry at a
// known offset and places it where the DMA asked.
func (x *Extractor) RestoreEntry(ctx context.Context, src Source, e *format.Entry, dest string) Result {
	x.drain()
	res := Result{Name: e.Name, Type: e.Type, Dest: dest}
	name, err := format.CleanName(e.Name)
	if err == nil {
		dest, err = format.CleanName(dest)
		res.Dest = dest
	}
	if err != nil {
		res.Err = err
		x.report(res)
		return res
	}
	var off int64 = -1
	if x.opts.Offset != nil {
		off = x.opts.Offset()
	}
	res.Err, res.Meta = x.restore(ctx, src, e, name, dest, off)
	x.report(res)
	return res
}

// Finish applies pending directory metadata and removes temporaries; call it
// after the last RestoreEntry.
func (x *Extractor) Finish() Summary {
	x.drain()
	x.finishDirs()
	x.cleanup()
	return x.sum
}

// report reports r after the results still queued for workers, or at once.
func (x *Extractor) report(r Result) {
	if x.pool != nil && len(x.pool.queue) > 0 {
		x.pool.queue = append(x.pool.queue, &job{res: r})
		x.collect(false)
		return
	}
	x.count(r)
}

// count counts a result and passes it to Options.Report.
func (x *Extractor) count(r Result) {
	switch {
	case r.Skipped:
		x.sum.Skipped++
	case r.Err != nil:
		x.sum.Failed++
	default:
		x.sum.Restored++
	}
	if x.opts.Report != nil {
		x.opts.Report(r)
	}
}

// streamError marks a failure of the stream itself (as opposed to the
// destination): the extraction cannot go on.
type streamError struct{ err error }

func (e *streamError) Error() string { return e.err.Error() }
func (e *streamError) Unwrap() error { return e.err }

func isStreamErr(err error) bool {
	var se *streamError
	return errors.As(err, &se)
}

// restore dispatches on the entry type; it returns the entry's error and its
// metadata error.
func (x *Extractor) restore(ctx context.Context, src Source, e *format.Entry, name, dest string, off int64) (error, error) {
	if dest == "." {
		if e.Type != format.Dir {
			return fmt.Errorf("%w: %s entry names the destination itself", ErrBadEntry, e.Type), nil
		}
		x.dirs = append(x.dirs, pendingDir{dest: ".", entry: *e})
		return nil, nil
	}
	if err := x.parent(dest); err != nil {
		return err, nil
	}
	switch e.Type {
	case format.Dir:
		return x.dir(e, dest), nil
	case format.Regular:
		return x.regular(src, e, name, dest, off)
	case format.HardLink:
		return x.hardlink(ctx, e, dest)
	case format.Symlink, format.FIFO, format.CharDevice, format.BlockDevice:
		return x.special(e, dest)
	}
	return fmt.Errorf("%w: type %d", ErrBadEntry, e.Type), nil
}

// parent makes sure dest's parent chain consists of real directories inside
// the root, creating missing ones (mode 0700 until the stream says otherwise).
func (x *Extractor) parent(dest string) error {
	dir := path.Dir(dest)
	if x.verified[dir] {
		return nil
	}
	if err := x.parent(dir); err != nil {
		return err
	}
	x.barrier(dir)
	fi, err := x.root.Lstat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		switch err := x.root.Mkdir(dir, 0o700); {
		case err == nil:
			x.wrote(dir)
		case !errors.Is(err, fs.ErrExist):
			return err
		}
		return x.parentCheck(dir)
	case err != nil:
		return err
	case fi.Mode()&fs.ModeSymlink != 0:
		return fmt.Errorf("%w: %q", ErrSymlinkParent, dir)
	case !fi.IsDir():
		return fmt.Errorf("%w: %q", ErrNotDir, dir)
	}
	x.verified[dir] = true
	return nil
}

func (x *Extractor) parentCheck(dir string) error {
	fi, err := x.root.Lstat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%w: %q", ErrNotDir, dir)
	}
	x.verified[dir] = true
	return nil
}

// dir creates (or keeps) a directory; its metadata waits for Finish.
func (x *Extractor) dir(e *format.Entry, dest string) error {
	x.barrier(dest)
	fi, err := x.root.Lstat(dest)
	switch {
	case err == nil && fi.IsDir():
	case err == nil && !x.opts.Overwrite:
		return fmt.Errorf("%w: %q is not a directory", ErrExists, dest)
	case err == nil:
		if err := x.root.Remove(dest); err != nil {
			return err
		}
		fallthrough
	case errors.Is(err, fs.ErrNotExist):
		if err := x.root.Mkdir(dest, 0o700); err != nil {
			return err
		}
		x.wrote(dest)
	default:
		return err
	}
	x.verified[dest] = true
	x.dirs = append(x.dirs, pendingDir{dest: dest, entry: *e})
	return nil
}

// regular writes a file under its final name, created O_EXCL|O_NOFOLLOW
// relative to its open parent directory (no path walk per file), and sets
// its metadata on the open descriptor. A file whose data the stream fails
// to deliver, or that fails its checksum, is removed again. Only to
// replace an existing file (Overwrite) is it written under a temporary
// name and renamed over the old one, which stays whole until then.
func (x *Extractor) regular(src Source, e *format.Entry, name, dest string, off int64) (error, error) {
	x.barrier(dest)
	r, err := x.openDir(path.Dir(dest))
	if err != nil {
		return err, nil
	}
	d := r.d
	dfd, base := int(d.File().Fd()), path.Base(dest)
	create := base
	if x.opts.Overwrite {
		if err := x.mayCreateAt(dfd, dest, base); err != nil {
			return err, nil
		}
		create = path.Base(tempName(dest))
	}
	f, err := d.CreateFile(create, 0o600)
	if errors.Is(err, fs.ErrExist) && !x.opts.Overwrite {
		return fmt.Errorf("%w: %q", ErrExists, dest), nil
	}
	if err != nil {
		return err, nil
	}
	// until complete, the file is removed on every return (Extract's
	// cleanup included)
	p := path.Join(path.Dir(dest), create)
	x.tmps[p] = true
	want, check := x.expected(off)
	cf := &crcFile{f: f}
	var w io.Writer = f
	if check {
		w = cf
	}
	n, err := src.WriteTo(w)
	x.sum.Bytes += n
	if err == nil && e.Sparse != nil {
		err = f.Truncate(e.Size) // a trailing hole
	}
	if err != nil {
		f.Close()
		x.removeTemp(p)
		if isWriteErr(err) {
			return err, nil
		}
		return &streamError{err}, nil
	}
	if check && cf.crc != want {
		f.Close()
		x.sum.Bytes -= n
		return x.damaged(dfd, p, dest, cf.crc, want), nil
	}
	merr := d.ApplyFile(f, base, e)
	if err := f.Close(); err != nil {
		x.removeTemp(p)
		return err, nil
	}
	if x.opts.Overwrite {
		if err := unix.Renameat(dfd, create, dfd, base); err != nil {
			x.removeTemp(p)
			return &os.PathError{Op: "rename", Path: dest, Err: err}, nil
		}
	}
	delete(x.tmps, p)
	x.links[name] = dest
	x.wrote(dest)
	return nil, merr
}

// expected returns the checksum recorded for the file at off, if any.
func (x *Extractor) expected(off int64) (uint32, bool) {
	if x.opts.Checksum == nil || off < 0 {
		return 0, false
	}
	return x.opts.Checksum(off)
}

// damaged disposes of a file whose data failed its checksum, written as
// tmp (dest itself, or a temporary when replacing): removed, or kept beside
// dest with DamagedSuffix.
func (x *Extractor) damaged(dfd int, tmp, dest string, got, want uint32) error {
	err := fmt.Errorf("%w: %q (CRC-32C %08x, at backup %08x)", ErrDamaged, dest, got, want)
	if !x.opts.KeepDamaged {
		x.removeTemp(tmp)
		return err
	}
	keep := path.Base(dest) + DamagedSuffix
	if rerr := unix.Renameat(dfd, path.Base(tmp), dfd, keep); rerr != nil {
		x.removeTemp(tmp)
		return fmt.Errorf("%w; keeping it as %s: %v", err, keep, rerr)
	}
	delete(x.tmps, tmp)
	return fmt.Errorf("%w; kept as %q", err, dest+DamagedSuffix)
}

// wrote records dest as written by this restore.
func (x *Extractor) wrote(dest string) {
	if x.opts.Written != nil {
		x.opts.Written.add(dest)
	}
}

// crcFile checksums what is written to a file; it seeks and truncates like
// the file, so a sparse file keeps its holes (and the checksum covers its
// data regions, as at backup).
type crcFile struct {
	f   *fsmeta.File
	crc uint32
}

func (c *crcFile) Write(p []byte) (int, error) {
	n, err := c.f.Write(p)
	c.crc = crc32.Update(c.crc, castagnoli, p[:n])
	return n, err
}

func (c *crcFile) Seek(off int64, whence int) (int64, error) { return c.f.Seek(off, whence) }
func (c *crcFile) Truncate(size int64) error                 { return c.f.Truncate(size) }

// castagnoli is CRC-32C's table (hardware-assisted where the CPU has it).
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// openDir returns the open directory dir, keeping the last one: a stream
// holds a directory's entries together. Workers still writing into the
// previous one keep it open.
func (x *Extractor) openDir(dir string) (*dirRef, error) {
	dir = path.Clean(dir)
	if x.cur != nil && x.cur.d.Name() == dir {
		return x.cur, nil
	}
	x.closeDir()
	d, err := x.fsm.OpenDir(dir)
	if err != nil {
		return nil, err
	}
	x.cur = newDirRef(d)
	return x.cur, nil
}

func (x *Extractor) closeDir() {
	if x.cur != nil {
		x.cur.release()
		x.cur = nil
	}
}

// mayCreateAt is mayCreate relative to an open directory.
func (x *Extractor) mayCreateAt(dfd int, dest, base string) error {
	var st unix.Stat_t
	err := unix.Fstatat(dfd, base, &st, unix.AT_SYMLINK_NOFOLLOW)
	switch {
	case err == unix.ENOENT:
		return nil
	case err != nil:
		return &os.PathError{Op: "lstat", Path: dest, Err: err}
	case !x.opts.Overwrite:
		return fmt.Errorf("%w: %q", ErrExists, dest)
	case st.Mode&unix.S_IFMT == unix.S_IFDIR:
		if err := unix.Unlinkat(dfd, base, unix.AT_REMOVEDIR); err != nil {
			return fmt.Errorf("%w: directory %q: %v", ErrExists, dest, err)
		}
		delete(x.verified, dest)
	}
	return nil
}

// isWriteErr tells a destination failure (the file) from a stream failure.
// fsmeta.File reports its errors as *fs.PathError.
func isWriteErr(err error) bool {
	var pe *fs.PathError
	return errors.As(err, &pe)
}

// special creates a symlink, FIFO or device node under a temporary name.
func (x *Extractor) special(e *format.Entry, dest string) (error, error) {
	x.barrier(dest)
	if err := x.mayCreate(dest); err != nil {
		return err, nil
	}
	tmp := tempName(dest)
	if err := x.createSpecial(tmp, e); err != nil {
		return err, nil
	}
	x.tmps[tmp] = true
	merr := x.applyMeta(tmp, e)
	if err := x.rename(tmp, dest); err != nil {
		return err, nil
	}
	x.wrote(dest)
	return nil, merr
}

// hardlink links dest to the restored target, fetching the target's data
// through ReadAt when it was skipped.
func (x *Extractor) hardlink(ctx context.Context, e *format.Entry, dest string) (error, error) {
	x.drain() // the target may still be with a worker
	target, err := format.CleanName(e.Linkname)
	if err != nil {
		return err, nil
	}
	if err := x.mayCreate(dest); err != nil {
		return err, nil
	}
	if have, ok := x.links[target]; ok {
		tmp := tempName(dest)
		if err := x.root.Link(have, tmp); err != nil {
			return err, nil
		}
		x.tmps[tmp] = true
		if err := x.rename(tmp, dest); err != nil {
			return err, nil
		}
		x.wrote(dest)
		return nil, nil
	}
	return x.fetchLinkData(ctx, target, dest)
}

// fetchLinkData restores the data of a skipped hard-link target under dest.
func (x *Extractor) fetchLinkData(ctx context.Context, target, dest string) (error, error) {
	off, ok := x.skipped[target]
	if !ok || x.opts.ReadAt == nil {
		return fmt.Errorf("%w: %q", ErrLinkTarget, target), nil
	}
	var rerr, merr error
	err := x.opts.ReadAt(off, func(src Source) error {
		e, err := src.Next()
		if err != nil {
			return err
		}
		if name, _ := format.CleanName(e.Name); name != target || e.Type != format.Regular {
			return fmt.Errorf("%q not at offset %d", target, off)
		}
		rerr, merr = x.regular(src, e, target, dest, off)
		if isStreamErr(rerr) {
			return rerr
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("%w: %q: %v", ErrLinkTarget, target, err), nil
	}
	if rerr == nil {
		delete(x.skipped, target)
	}
	return rerr, merr
}

// mayCreate refuses an existing dest unless overwriting.
func (x *Extractor) mayCreate(dest string) error {
	fi, err := x.root.Lstat(dest)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return err
	case !x.opts.Overwrite:
		return fmt.Errorf("%w: %q", ErrExists, dest)
	case fi.IsDir():
		// rename cannot replace a directory by a file; an empty one may go
		if err := x.root.Remove(dest); err != nil {
			return fmt.Errorf("%w: directory %q: %v", ErrExists, dest, err)
		}
		delete(x.verified, dest)
	}
	return nil
}

func (x *Extractor) removeTemp(tmp string) {
	x.root.Remove(tmp)
	delete(x.tmps, tmp)
}

// rename moves a finished temporary into place.
func (x *Extractor) rename(tmp, dest string) error {
	if err := x.root.Rename(tmp, dest); err != nil {
		x.removeTemp(tmp)
		return err
	}
	delete(x.tmps, tmp)
	return nil
}

// TempPrefix starts the names of the temporaries a restore writes.
const TempPrefix = ".ferry-restore-"

func tempName(dest string) string {
	var b [8]byte
	rand.Read(b[:])
	return path.Join(path.Dir(dest), TempPrefix+hex.EncodeToString(b[:]))
}

// finishDirs applies directory metadata deepest first, so setting a
// directory's times is not undone by creating something inside it.
func (x *Extractor) finishDirs() {
	slices.SortStableFunc(x.dirs, func(a, b pendingDir) int {
		return strings.Count(b.dest, "/") - strings.Count(a.dest, "/")
	})
	for _, d := range x.dirs {
		if err := x.applyMeta(d.dest, &d.entry); err != nil && x.opts.Report != nil {
			x.opts.Report(Result{Name: d.entry.Name, Dest: d.dest, Type: format.Dir, Meta: err})
		}
	}
	x.dirs = nil
}

func (x *Extractor) cleanup() {
	x.drain()
	if x.pool != nil {
		x.pool.stop()
	}
	x.closeDir()
	x.fsm.Close()
	for tmp := range x.tmps {
		x.root.Remove(tmp)
	}
	clear(x.tmps)
}

// Extract restores every entry of src under root: New(root, opts).Extract.
func Extract(ctx context.Context, root *os.Root, src Source, opts Options) (Summary, error) {
	return New(root, opts).Extract(ctx, src)
}
