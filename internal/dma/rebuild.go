package dma

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"ferry/internal/catalog"
	"ferry/internal/format"
	"ferry/internal/restore"
)

// RebuildSpec describes a catalog rebuild from one cartridge.
type RebuildSpec struct {
	Agent Agent  // the agent whose drive holds the cartridge
	Drive string // default tape0
	ChangerOptions
	// Barcode is recorded for the backups found when their headers name
	// none (agents whose DMA could not tell the cartridge).
	Barcode string
	// NoFiles skips reading the images for their file history: backups
	// are listed and restorable as a whole, but ls, find and single-path
	// restores need the files.
	NoFiles bool
}

// RebuildResult says what a rebuild found.
type RebuildResult struct {
	Added   []int64 `json:"added"`   // backups recreated
	Present []int64 `json:"present"` // backups the catalog had already
	Files   int64   `json:"files"`   // file-history entries recreated
	// Damaged lists the tape files that could not be read ("cartridge
	// X: tape file N: cause"); the backups around them were rebuilt.
	Damaged []string `json:"damaged,omitempty"`
}

// Rebuild recreates the catalog's record of the backups on a cartridge from
// the headers and trailers ferry writes around each image (ScanTape): each
// backup under its original id with its chain, level, dump date token,
// environment and tape location, and its file history read back from the
// image (tar images). A backup spanning cartridges is complete once every
// piece up to the one its trailer follows has been found, whatever order
// the cartridges are read in. A backup with no trailer did not finish and
// is recorded failed. Pieces the catalog already has are left alone.
func Rebuild(ctx context.Context, cat catalog.Catalog, s RebuildSpec) (RebuildResult, error) {
	var res RebuildResult
	if s.Drive == "" {
		s.Drive = "tape0"
	}
	files, serr := ScanTape(ctx, s.Agent, s.Drive)
	if serr != nil && len(files) == 0 {
		return res, serr
	}
	// Past damage the scan may have stopped early (serr): what it found
	// before is rebuilt all the same, and serr returned after.
	trailers := map[int]*Trailer{} // by tape file number
	for _, f := range files {
		if f.Damage != "" {
			res.Damaged = append(res.Damaged, fmt.Sprintf("cartridge %s: tape file %d: %s", cartridgeName(s.Barcode), f.File, f.Damage))
		}
		if f.Trailer != nil {
			trailers[f.File] = f.Trailer
		}
		if f.Label != nil && s.Barcode == "" {
			s.Barcode = f.Label.Volume
		}
	}
	d, closeDrive, err := dialDrive(ctx, s.Agent, nil, s.Drive, s.ChangerOptions)
	if err != nil {
		return res, err
	}
	defer closeDrive()
	// Reading a spanned image mounts its other cartridges: leave the
	// drive holding the one this rebuild was asked to read.
	defer d.mount(context.WithoutCancel(ctx), s.Barcode)
	for _, f := range files {
		h := f.Header
		if h == nil {
			continue
		}
		tr := trailers[h.ImageFile+1]
		if tr != nil && tr.BackupID != h.BackupID {
			tr = nil
		}
		added, n, err := rebuildPiece(ctx, cat, d, s, *h, tr)
		res.Files += n
		if err != nil {
			return res, err
		}
		if added {
			res.Added = append(res.Added, h.BackupID)
		} else {
			res.Present = append(res.Present, h.BackupID)
		}
	}
	return res, serr
}

// rebuildPiece records one piece of a backup image found on tape,
// creating the backup from its header when the catalog lacks it, and
// completes the backup when this piece was the last one missing. It
// reports whether the piece was new.
func rebuildPiece(ctx context.Context, cat catalog.Catalog, d *drive, s RebuildSpec, h Header, tr *Trailer) (bool, int64, error) {
	b, err := cat.Backup(ctx, h.BackupID)
	switch {
	case err == nil:
		if slices.ContainsFunc(b.Locations, func(l catalog.Location) bool { return l.Seq == h.Part }) {
			return false, 0, nil
		}
	case errors.Is(err, catalog.ErrNotFound):
		b = catalog.Backup{ID: h.BackupID, Agent: h.Agent, Path: h.Path, Level: h.Level, Butype: h.Butype,
			BaseID: h.BaseID, BaseToken: h.BaseToken, Started: h.Started, Status: catalog.StatusRunning}
		if b.BaseID != 0 {
			if _, err := cat.Backup(ctx, b.BaseID); err != nil {
				b.BaseID = 0 // its base is on a cartridge not rebuilt (yet): the token still chains
			}
		}
		if _, err := cat.CreateBackup(ctx, &b); err != nil {
			return false, 0, fmt.Errorf("dma: recreate backup %d: %w", h.BackupID, err)
		}
		// Until its last piece is found the backup cannot be restored.
		err := cat.FinishBackup(ctx, b.ID, catalog.BackupResult{Status: catalog.StatusFailed, Ended: h.Started,
			Error: "no trailer on tape: the job did not finish (found by catalog rebuild)"})
		if err != nil {
			return false, 0, fmt.Errorf("dma: recreate backup %d: %w", h.BackupID, err)
		}
	default:
		return false, 0, fmt.Errorf("dma: catalog: %w", err)
	}
	barcode := cmp.Or(h.Barcode, s.Barcode)
	loc := catalog.Location{BackupID: h.BackupID, Seq: h.Part, Barcode: barcode, FileNum: h.ImageFile,
		RecordSize: h.RecordSize, Offset: h.Offset}
	if tr != nil {
		loc.Length = tr.Bytes - h.Offset
		// The trailer's outcome waits in the backup for its other pieces.
		err := cat.FinishBackup(ctx, b.ID, catalog.BackupResult{Status: catalog.StatusFailed, Ended: tr.Ended, Bytes: tr.Bytes,
			DumpDate: tr.DumpDate, Env: tr.Env, Error: "pieces of the image on other cartridges not found yet: rebuild them"})
		if err != nil {
			return true, 0, fmt.Errorf("dma: recreate backup %d: %w", h.BackupID, err)
		}
	}
	err = cat.AddLocation(ctx, loc)
	if err == nil && barcode != "" {
		err = noteMedium(ctx, cat, barcode, h.ImageFile+2, loc.Length)
	}
	if err != nil {
		return true, 0, fmt.Errorf("dma: recreate backup %d: %w", h.BackupID, err)
	}
	if b, err = cat.Backup(ctx, h.BackupID); err != nil {
		return true, 0, fmt.Errorf("dma: catalog: %w", err)
	}
	if !complete(b) {
		return true, 0, nil
	}
	res := catalog.BackupResult{Status: catalog.StatusSucceeded, Ended: b.Ended, Bytes: b.Bytes, DumpDate: b.DumpDate, Env: b.Env}
	var n int64
	if !s.NoFiles && b.Butype == "tar" {
		var ferr error
		n, ferr = rebuildFiles(ctx, cat, d, b)
		res.Files = n
		if ferr != nil {
			res.Error = ferr.Error()
		}
	}
	if err := cat.FinishBackup(ctx, b.ID, res); err != nil {
		return true, n, fmt.Errorf("dma: recreate backup %d: %w", h.BackupID, err)
	}
	return true, n, nil
}

// complete reports whether a rebuilt backup has its trailer's outcome and
// every piece of its image, the first to the one the trailer follows.
func complete(b catalog.Backup) bool {
	if b.DumpDate == "" && b.Bytes == 0 {
		return false // no trailer found yet
	}
	ls := slices.SortedFunc(slices.Values(b.Locations), func(x, y catalog.Location) int { return cmp.Compare(x.Seq, y.Seq) })
	for i, l := range ls {
		if l.Seq != i {
			return false
		}
	}
	return len(ls) > 0 && ls[len(ls)-1].Length > 0 && ls[len(ls)-1].Offset+ls[len(ls)-1].Length == b.Bytes
}

// noteMedium records a cartridge seen by a rebuild, with the tape file
// after the last image found on it.
func noteMedium(ctx context.Context, cat catalog.Catalog, barcode string, next int, used int64) error {
	m, err := cat.Medium(ctx, barcode)
	if errors.Is(err, catalog.ErrNotFound) {
		m, err = catalog.Medium{Barcode: barcode, Label: barcode, State: "active"}, nil
	}
	if err != nil {
		return err
	}
	m.NextFile = max(m.NextFile, next)
	m.Used += used
	m.Updated = time.Now().UTC()
	return cat.PutMedium(ctx, m)
}

// rebuildFiles reads a tar image back, across its cartridges, and records
// its file history as ferry's tar engine reports it: the path below the
// backed-up directory with a leading slash, the NDMP attributes, and
// fh_info = the offset of the entry's first header block in the stream (a
// hard link's, that of the entry holding the data).
func rebuildFiles(ctx context.Context, cat catalog.Catalog, d *drive, b catalog.Backup) (int64, error) {
	tr, err := openImage(ctx, d, b, 0, readAhead)
	if err != nil {
		return 0, err
	}
	in := cat.Ingest(ctx, b.ID, catalog.IngestOptions{})
	rd := format.NewReader(tr)
	type data struct {
		off  int64
		size int64
	}
	held := map[string]data{} // regular files by name, for hard links
	var rerr error
	for {
		e, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			rerr = fmt.Errorf("dma: backup %d: image unreadable after %d entries: %w", b.ID, in.Count(), err)
			break
		}
		if e.Name == restore.ListingName {
			continue
		}
		off, size := rd.Offset(), max(e.Size, 0)
		switch e.Type {
		case format.Regular:
			held[e.Name] = data{off, size}
		case format.HardLink:
			if d, ok := held[e.Linkname]; ok {
				off, size = d.off, d.size
			}
		}
		path := "/"
		if e.Name != "." {
			path = "/" + e.Name
		}
		f := catalog.File{Path: path, Type: fileType(e.Type), Mode: e.Mode & 0o7777, UID: uint32(e.UID),
			GID: uint32(e.GID), Size: uint64(size), Mtime: time.Unix(e.ModTime.Unix(), 0), FhInfo: uint64(off)}
		if err := in.Add(f); err != nil {
			rerr = err
			break
		}
	}
	tr.Close()
	cerr := in.Close()
	return in.Count(), errors.Join(rerr, cerr)
}

// fileType is the NDMP file type ferry's tar engine reports for an entry.
func fileType(t format.Type) catalog.FileType {
	switch t {
	case format.Dir:
		return catalog.TypeDir
	case format.Regular, format.HardLink:
		return catalog.TypeReg
	case format.Symlink:
		return catalog.TypeSymlink
	case format.FIFO:
		return catalog.TypeFIFO
	case format.CharDevice:
		return catalog.TypeCharDev
	case format.BlockDevice:
		return catalog.TypeBlkDev
	}
	return catalog.TypeOther
}
