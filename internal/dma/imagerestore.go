package dma

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"ferry/internal/catalog"
	"ferry/internal/view"
)

// ErrFilesNotCataloged means an image backup has no file catalog: its
// disk held no ext4 file system, or it is an incremental.
var ErrFilesNotCataloged = errors.New("dma: the image backup's files are not cataloged")

// imageTape reads records of an image from a tape LU positioned at its
// first record, moving forward by SPACE and back by repositioning.
type imageTape struct {
	c       *san
	lun     uint64
	fileNum int   // the image's tape file
	pos     int64 // the record the tape is before
	last    int64 // the record in buf; -1: none
	buf     []byte
	read    int64 // bytes read from tape
}

// record returns record rec of the image.
func (t *imageTape) record(ctx context.Context, rec int64) ([]byte, error) {
	if rec == t.last {
		return t.buf, nil
	}
	if rec < t.pos {
		if err := t.c.rewind(ctx, t.lun); err != nil {
			return nil, err
		}
		if err := t.c.spaceFilemarks(ctx, t.lun, t.fileNum); err != nil {
			return nil, err
		}
		t.pos = 0
	}
	for t.pos < rec {
		n := min(rec-t.pos, 0x7FFFFF) // SPACE(6)'s count is 24 bits, signed
		if _, err := t.c.do(ctx, t.lun, []byte{0x11, 0x00, byte(n >> 16), byte(n >> 8), byte(n), 0}, nil, 0); err != nil {
			return nil, fmt.Errorf("dma: space to record %d of the image: %w", rec, err)
		}
		t.pos += n
	}
	b, fm, err := t.c.readRecord(ctx, t.lun, imageRecord)
	if err == nil && fm {
		err = fmt.Errorf("dma: the image ends before its record %d", rec)
	}
	if err != nil {
		t.last = -1
		return nil, err
	}
	t.pos, t.last, t.buf = rec+1, rec, b
	t.read += int64(len(b))
	return b, nil
}

// readRun reads run's bytes: from its record and offset on through the
// records that follow.
func (t *imageTape) readRun(ctx context.Context, run catalog.ImageRun, p []byte) error {
	rec, off := run.Record, run.RecordOffset
	for n := 0; n < len(p); rec, off = rec+1, 0 {
		b, err := t.record(ctx, rec)
		if err != nil {
			return err
		}
		if off > int64(len(b)) || (off == int64(len(b)) && len(b) > 0) {
			return fmt.Errorf("dma: record %d of the image has %d bytes, the catalog wants byte %d", rec, len(b), off)
		}
		if len(b) == 0 {
			return fmt.Errorf("dma: record %d of the image is empty", rec)
		}
		n += copy(p[n:], b[off:])
	}
	return nil
}

// imageEntry is one cataloged name to restore, with its runs.
type imageEntry struct {
	f   catalog.File
	img catalog.ImageFile
}

// restoreImageFiles restores files of an image backup's file system into
// a local directory, reading from tape only the records their data lies
// in (docs/dma.md, File-level restore).
func (m *Manager) restoreImageFiles(ctx context.Context, b catalog.Backup, r RestoreRequest) (view.Restore, error) {
	out := view.Restore{Backup: b.ID, Chain: []int64{b.ID}, To: r.To}
	var err error
	if out.To, err = filepath.Abs(r.To); err != nil {
		return out, err
	}
	spec := ServerlessJobSpec{Version: JobSpecVersion, Backup: b.ID, To: out.To, Tape: r.Tape, DataPath: PathDataManager}
	j, jctx, err := startJob(ctx, m.cat, "restore", b.ID, spec)
	if err != nil {
		return out, err
	}
	var lines []logLine
	err = m.runImageRestore(jctx, b, r, &out, &lines)
	err = errors.Join(err, j.finish(jctx, fmt.Sprintf("restore of image backup %d", b.ID), err, lines))
	if err != nil {
		out.Error = err.Error()
	}
	return out, err
}

func (m *Manager) runImageRestore(ctx context.Context, b catalog.Backup, r RestoreRequest, out *view.Restore, lines *[]logLine) error {
	if !b.Completed() {
		return fmt.Errorf("dma: backup %d did not complete (%s)", b.ID, b.Status)
	}
	ents, err := m.imageEntries(ctx, b, r.Paths)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(out.To, 0o755); err != nil {
		return err
	}
	root, err := os.OpenRoot(out.To)
	if err != nil {
		return err
	}
	defer root.Close()
	t, closeTape, err := m.openImageFiles(ctx, b, r.Tape)
	if err != nil {
		return err
	}
	defer closeTape()
	var dirs []catalog.File
	for _, e := range ents {
		rel := strings.TrimPrefix(e.f.Path, "/")
		err := m.restoreImageEntry(ctx, root, t, rel, e, r.Overwrite)
		switch {
		case errors.Is(err, fs.ErrExist):
			out.Skipped++
			*lines = append(*lines, logLine{"info", e.f.Path + ": exists, kept (--overwrite replaces it)"})
		case errors.Is(err, errNotRestorable):
			out.Skipped++
			*lines = append(*lines, logLine{"warning", e.f.Path + ": " + err.Error()})
		case err != nil:
			out.Failed++
			return fmt.Errorf("%s: %w", e.f.Path, err)
		default:
			out.Restored++
			if e.f.Type == catalog.TypeReg {
				out.Bytes += int64(e.f.Size)
			}
			if e.f.Type == catalog.TypeDir {
				dirs = append(dirs, e.f)
			}
		}
	}
	// Directories' times last, once their entries are written.
	for _, d := range slices.Backward(dirs) {
		root.Chtimes(strings.TrimPrefix(d.Path, "/"), d.Mtime, d.Mtime)
	}
	out.Read = t.read
	*lines = append(*lines, logLine{"info", fmt.Sprintf("%d names restored, %d skipped; %d bytes read from tape", out.Restored, out.Skipped, t.read)})
	return nil
}

var errNotRestorable = errors.New("not restored: a device, FIFO or socket is not recreated from an image")

// imageEntries looks up the paths (every file when none), directories
// with what they hold, and each file's runs; ordered by where their data
// starts on tape, a directory before its entries.
func (m *Manager) imageEntries(ctx context.Context, b catalog.Backup, paths []string) ([]imageEntry, error) {
	if len(paths) == 0 {
		paths = []string{"/"}
	}
	var files []catalog.File
	for _, p := range paths {
		p = path.Clean("/" + p)
		if p == "/" {
			fs, err := m.listImageTree(ctx, b.ID, "/")
			if err != nil {
				return nil, err
			}
			files = append(files, fs...)
			continue
		}
		f, err := m.cat.Lookup(ctx, b.ID, p)
		if errors.Is(err, catalog.ErrNotFound) {
			return nil, fmt.Errorf("dma: %s is not in backup %d", p, b.ID)
		}
		if err != nil {
			return nil, err
		}
		files = append(files, f)
		if f.Type == catalog.TypeDir {
			fs, err := m.listImageTree(ctx, b.ID, p)
			if err != nil {
				return nil, err
			}
			files = append(files, fs...)
		}
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%w: backup %d lists no files", ErrFilesNotCataloged, b.ID)
	}
	ents := make([]imageEntry, 0, len(files))
	for _, f := range files {
		e := imageEntry{f: f}
		if f.Type == catalog.TypeReg || f.Type == catalog.TypeSymlink {
			img, err := m.cat.ImageFile(ctx, b.ID, f.Node)
			if errors.Is(err, catalog.ErrNotFound) {
				return nil, fmt.Errorf("%w: backup %d has no runs for %s", ErrFilesNotCataloged, b.ID, f.Path)
			}
			if err != nil {
				return nil, err
			}
			e.img = img
		}
		ents = append(ents, e)
	}
	// Directories first (by path, parents before children), then files by
	// their first record, so the tape moves forward.
	slices.SortStableFunc(ents, func(a, b imageEntry) int {
		ad, bd := a.f.Type == catalog.TypeDir, b.f.Type == catalog.TypeDir
		switch {
		case ad && bd:
			return strings.Compare(a.f.Path, b.f.Path)
		case ad != bd:
			if ad {
				return -1
			}
			return 1
		}
		return cmp.Compare(firstRecord(a.img), firstRecord(b.img))
	})
	return ents, nil
}

func firstRecord(f catalog.ImageFile) int64 {
	if len(f.Runs) == 0 {
		return -1
	}
	return f.Runs[0].Record
}

// listImageTree lists everything below dir.
func (m *Manager) listImageTree(ctx context.Context, id int64, dir string) ([]catalog.File, error) {
	fs, err := m.cat.List(ctx, id, dir)
	if err != nil {
		return nil, err
	}
	out := fs
	for _, f := range fs {
		if f.Type == catalog.TypeDir {
			sub, err := m.listImageTree(ctx, id, f.Path)
			if err != nil {
				return nil, err
			}
			out = append(out, sub...)
		}
	}
	return out, nil
}

// openImageFiles logs in to the image's target and positions its
// cartridge at the image's first record.
func (m *Manager) openImageFiles(ctx context.Context, b catalog.Backup, tape string) (*imageTape, func(), error) {
	lun, ok := strings.CutPrefix(b.Path, "lun/")
	if !ok {
		return nil, nil, fmt.Errorf("dma: image backup %d of %q names no LUN", b.ID, b.Path)
	}
	u, secret, err := m.resolveLU(ctx, b.Agent+"/"+lun)
	if err != nil {
		return nil, nil, err
	}
	disk, err := dialSAN(ctx, u, secret)
	if err != nil {
		return nil, nil, err
	}
	if !strings.HasPrefix(tape, "iscsi://") && strings.Contains(tape, "://") {
		tape = "" // an NDMP drive: not one an image is read from
	}
	c, tlun, err := m.openImageTape(ctx, disk, tape, b)
	if err != nil {
		disk.Close()
		return nil, nil, err
	}
	closeAll := func() {
		if c != disk {
			c.Close()
		}
		disk.Close()
	}
	return &imageTape{c: c, lun: tlun, fileNum: b.Locations[0].FileNum, last: -1}, closeAll, nil
}

// restoreImageEntry writes one name under root.
func (m *Manager) restoreImageEntry(ctx context.Context, root *os.Root, t *imageTape, rel string, e imageEntry, overwrite bool) error {
	f := e.f
	perm := fs.FileMode(f.Mode & 0o7777)
	if dir := path.Dir(rel); dir != "." {
		if err := root.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	switch f.Type {
	case catalog.TypeDir:
		if err := root.MkdirAll(rel, 0o755); err != nil {
			return err
		}
		return root.Chmod(rel, perm.Perm())
	case catalog.TypeSymlink:
		if overwrite {
			removeNonDir(root, rel)
		}
		return root.Symlink(string(e.img.Inline), rel)
	case catalog.TypeReg:
	default:
		return errNotRestorable
	}
	flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
	if overwrite {
		removeNonDir(root, rel)
	}
	w, err := root.OpenFile(rel, flags, 0o600)
	if err != nil {
		return err
	}
	err = writeImageFile(ctx, w, t, f, e.img)
	err = errors.Join(err, w.Close())
	if err != nil {
		root.Remove(rel) // never leave a partial file under the file's name
		return err
	}
	return errors.Join(root.Chmod(rel, perm), root.Chtimes(rel, time.Time{}, f.Mtime))
}

func removeNonDir(root *os.Root, rel string) {
	if st, err := root.Lstat(rel); err == nil && !st.IsDir() {
		root.Remove(rel)
	}
}

// maxRunBuffer bounds the buffer one run is read through.
const maxRunBuffer = 4 << 20

// writeImageFile writes a file's runs at their offsets; what no run
// covers stays a hole (zeros).
func writeImageFile(ctx context.Context, w *os.File, t *imageTape, f catalog.File, img catalog.ImageFile) error {
	if err := w.Truncate(int64(f.Size)); err != nil {
		return err
	}
	if img.Inline != nil && len(img.Runs) == 0 {
		_, err := w.WriteAt(img.Inline[:min(len(img.Inline), int(f.Size))], 0)
		return err
	}
	for _, run := range img.Runs {
		if run.FileOffset+run.Length > int64(f.Size) {
			return fmt.Errorf("dma: a run to byte %d of a file of %d bytes", run.FileOffset+run.Length, f.Size)
		}
		// A long run is read in pieces that each start where the previous ended.
		for done := int64(0); done < run.Length; {
			n := min(run.Length-done, maxRunBuffer)
			p := make([]byte, n)
			at := run.RecordOffset + done
			piece := catalog.ImageRun{Record: run.Record + at/imageRecord, RecordOffset: at % imageRecord}
			if err := t.readRun(ctx, piece, p); err != nil {
				return err
			}
			if _, err := w.WriteAt(p, run.FileOffset+done); err != nil {
				return err
			}
			done += n
		}
	}
	return nil
}
