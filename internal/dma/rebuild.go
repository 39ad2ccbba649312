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
	"ferry/internal/volume"
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

// RebuildResult says what a rebuild found, by catalog id.
type RebuildResult struct {
	Added      []int64      `json:"added"`      // backups recreated
	Present    []int64      `json:"present"`    // backups the catalog had already
	Files      int64        `json:"files"`      // file-history entries recreated
	Renumbered []Renumbered `json:"renumbered"` // backups recreated under another number than their header's
	// Damaged lists the tape files that could not be read ("cartridge
	// X: tape file N: cause"); the backups around them were rebuilt.
	Damaged []string `json:"damaged,omitempty"`
}

// Renumbered is a backup a rebuild recorded under a new number because
// the catalog has another backup (another identity) under its header's:
// a cartridge may hold two backups numbered alike when a catalog was lost
// or replaced by an older copy before they were written.
type Renumbered struct {
	HeaderID int64  `json:"header_id"` // the number in its tape header
	ID       int64  `json:"id"`        // its number in the catalog now
	UUID     string `json:"uuid"`      // its identity
	Barcode  string `json:"barcode"`
	File     int    `json:"file"` // tape file number of its header
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
	trailers := map[int]*volume.Trailer{} // by tape file number
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
		if tr != nil && !tr.Follows(*h) {
			tr = nil
		}
		id, added, n, err := rebuildPiece(ctx, cat, d, s, *h, tr, &res)
		res.Files += n
		if err != nil {
			return res, err
		}
		if added {
			res.Added = append(res.Added, id)
		} else {
			res.Present = append(res.Present, id)
		}
	}
	if err := settleNextFile(ctx, cat, s.Barcode, len(files), serr == nil); err != nil {
		return res, fmt.Errorf("dma: catalog: %w", err)
	}
	return res, serr
}

// settleNextFile records where the next backup on the cartridge starts:
// after every tape file the scan found (n), as appendPosition finds it. A
// backup that failed leaves an empty or partial image and no trailer, so
// the images' headers alone cannot tell. A scan stopped by damage found
// fewer files than the cartridge holds: then n only raises the catalog's.
func settleNextFile(ctx context.Context, cat catalog.Catalog, barcode string, n int, whole bool) error {
	if barcode == "" {
		return nil
	}
	m, err := cat.Medium(ctx, barcode)
	if errors.Is(err, catalog.ErrNotFound) {
		return nil // no backup found on it
	}
	if err != nil || m.NextFile == n || (!whole && m.NextFile > n) {
		return err
	}
	m.NextFile, m.Updated = n, time.Now().UTC()
	return cat.PutMedium(ctx, m)
}

// rebuildPiece records one piece of a backup image found on tape,
// creating the backup from its header when the catalog lacks it, and
// completes the backup when this piece was the last one missing. It
// returns the backup's catalog id and whether the piece was new.
func rebuildPiece(ctx context.Context, cat catalog.Catalog, d *drive, s RebuildSpec, h volume.Header, tr *volume.Trailer, res *RebuildResult) (int64, bool, int64, error) {
	b, created, err := recordedBackup(ctx, cat, h)
	if err != nil {
		return 0, false, 0, err
	}
	if created && b.ID != h.BackupID {
		res.Renumbered = append(res.Renumbered, Renumbered{HeaderID: h.BackupID, ID: b.ID, UUID: b.UUID,
			Barcode: cmp.Or(h.Barcode, s.Barcode), File: h.ImageFile - 1})
	}
	if !created && slices.ContainsFunc(b.Locations, func(l catalog.Location) bool { return l.Seq == h.Part }) {
		return b.ID, false, 0, nil
	}
	added, n, err := rebuildLocation(ctx, cat, d, s, h, tr, b)
	return b.ID, added, n, err
}

// recordedBackup returns the catalog's backup of header h, found by its
// identity, or records it from h: under h's number when the catalog has
// no backup of that number, else under a new number. A backup recorded
// before backups had identities is found by number, agent, path and start.
func recordedBackup(ctx context.Context, cat catalog.Catalog, h volume.Header) (catalog.Backup, bool, error) {
	id := h.Identity()
	b, err := cat.BackupByUUID(ctx, id)
	if !errors.Is(err, catalog.ErrNotFound) {
		return b, false, wrapCatalog(err)
	}
	old, err := cat.Backup(ctx, h.BackupID)
	taken := err == nil
	switch {
	case taken && h.UUID == "" && old.UUID == "" && old.Agent == h.Agent && old.Path == h.Path && old.Started.Equal(h.Started):
		return old, false, nil
	case err != nil && !errors.Is(err, catalog.ErrNotFound):
		return b, false, wrapCatalog(err)
	}
	b = catalog.Backup{UUID: id, Agent: h.Agent, Path: h.Path, Level: h.Level, Butype: h.Butype, BaseUUID: h.BaseUUID,
		BaseToken: h.BaseToken, Started: h.Started, Status: catalog.StatusRunning}
	if !taken {
		b.ID = h.BackupID
	}
	if b.BaseUUID == "" && h.BaseID != 0 {
		if base, ok := legacyBase(ctx, cat, h); ok {
			b.BaseID, b.BaseUUID = base.ID, base.UUID
		}
	}
	if _, err := cat.CreateBackup(ctx, &b); err != nil {
		return b, false, fmt.Errorf("dma: recreate backup %d: %w", h.BackupID, err)
	}
	// Until its last piece is found the backup cannot be restored.
	err = cat.FinishBackup(ctx, b.ID, catalog.BackupResult{Status: catalog.StatusFailed, Ended: h.Started,
		Error: "no trailer on tape: the job did not finish (found by catalog rebuild)"})
	if err != nil {
		return b, false, fmt.Errorf("dma: recreate backup %d: %w", h.BackupID, err)
	}
	return b, true, nil
}

func wrapCatalog(err error) error {
	if err != nil {
		return fmt.Errorf("dma: catalog: %w", err)
	}
	return nil
}

// legacyBase finds the base of a backup whose header names it by number
// only (a base written before backups had identities): among the backups
// of the same agent and path, never another's, one that succeeded, started
// earlier at a lower level and gave the header's base token as its dump
// date; the one of the header's base number if several do. Not found (its
// cartridge not read yet), Chain links by the token later.
func legacyBase(ctx context.Context, cat catalog.Catalog, h volume.Header) (catalog.Backup, bool) {
	if h.BaseToken == "" {
		return catalog.Backup{}, false
	}
	bs, err := cat.Backups(ctx, catalog.BackupFilter{Agent: h.Agent, Path: h.Path, Status: catalog.StatusSucceeded})
	if err != nil {
		return catalog.Backup{}, false
	}
	bs = slices.DeleteFunc(bs, func(b catalog.Backup) bool {
		return b.DumpDate != h.BaseToken || b.Level >= h.Level || !b.Started.Before(h.Started)
	})
	if i := slices.IndexFunc(bs, func(b catalog.Backup) bool { return b.ID == h.BaseID }); i >= 0 {
		return bs[i], true
	}
	if len(bs) == 1 {
		return bs[0], true
	}
	return catalog.Backup{}, false
}

// rebuildLocation records the piece of backup b that header h heads, with
// the outcome its trailer tr gives, and completes b when this piece was
// the last one missing.
func rebuildLocation(ctx context.Context, cat catalog.Catalog, d *drive, s RebuildSpec, h volume.Header, tr *volume.Trailer, b catalog.Backup) (bool, int64, error) {
	barcode := cmp.Or(h.Barcode, s.Barcode)
	loc := catalog.Location{BackupID: b.ID, Seq: h.Part, Barcode: barcode, FileNum: h.ImageFile,
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
	err := cat.AddLocation(ctx, loc)
	if err == nil && barcode != "" {
		err = noteMedium(ctx, cat, barcode, h.ImageFile+1, loc.Length)
	}
	if err != nil {
		return true, 0, fmt.Errorf("dma: recreate backup %d: %w", h.BackupID, err)
	}
	if b, err = cat.Backup(ctx, b.ID); err != nil {
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
// after the last image found on it (settleNextFile counts the trailer and
// what failed backups left).
func noteMedium(ctx context.Context, cat catalog.MediaCatalog, barcode string, next int, used int64) error {
	m, err := cat.Medium(ctx, barcode)
	if errors.Is(err, catalog.ErrNotFound) {
		m, err = catalog.Medium{Barcode: barcode, Label: barcode, State: catalog.MediaAppend}, nil
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
