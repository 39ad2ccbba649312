package dma

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"ferry/internal/catalog"
	"ferry/internal/format"
	"ferry/internal/ndmp/wire"
	"ferry/internal/restore"
)

// RebuildSpec describes a catalog rebuild from one cartridge.
type RebuildSpec struct {
	Agent Agent  // the agent whose drive holds the cartridge
	Drive string // default tape0
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
}

// Rebuild recreates the catalog's record of the backups on a cartridge from
// the headers and trailers ferry writes around each image (ScanTape): each
// backup under its original id with its chain, level, dump date token,
// environment and tape location, and its file history read back from the
// image (tar images). A backup with no trailer did not finish and is
// recorded failed. Backups the catalog already has are left alone.
func Rebuild(ctx context.Context, cat catalog.Catalog, s RebuildSpec) (RebuildResult, error) {
	var res RebuildResult
	if s.Drive == "" {
		s.Drive = "tape0"
	}
	files, err := ScanTape(ctx, s.Agent, s.Drive)
	if err != nil {
		return res, err
	}
	trailers := map[int]*Trailer{} // by tape file number
	for _, f := range files {
		if f.Trailer != nil {
			trailers[f.File] = f.Trailer
		}
	}
	for _, f := range files {
		h := f.Header
		if h == nil {
			continue
		}
		if _, err := cat.Backup(ctx, h.BackupID); err == nil {
			res.Present = append(res.Present, h.BackupID)
			continue
		} else if !errors.Is(err, catalog.ErrNotFound) {
			return res, fmt.Errorf("dma: catalog: %w", err)
		}
		tr := trailers[h.ImageFile+1]
		if tr != nil && tr.BackupID != h.BackupID {
			tr = nil
		}
		n, err := rebuildBackup(ctx, cat, s, *h, tr)
		res.Files += n
		if err != nil {
			return res, err
		}
		res.Added = append(res.Added, h.BackupID)
	}
	return res, nil
}

// rebuildBackup records one backup found on tape.
func rebuildBackup(ctx context.Context, cat catalog.Catalog, s RebuildSpec, h Header, tr *Trailer) (int64, error) {
	barcode := h.Barcode
	if barcode == "" {
		barcode = s.Barcode
	}
	b := &catalog.Backup{ID: h.BackupID, Agent: h.Agent, Path: h.Path, Level: h.Level, Butype: h.Butype,
		BaseID: h.BaseID, BaseToken: h.BaseToken, Started: h.Started, Status: catalog.StatusRunning}
	if b.BaseID != 0 {
		if _, err := cat.Backup(ctx, b.BaseID); err != nil {
			b.BaseID = 0 // its base is on a cartridge not rebuilt (yet): the token still chains
		}
	}
	if _, err := cat.CreateBackup(ctx, b); err != nil {
		return 0, fmt.Errorf("dma: recreate backup %d: %w", h.BackupID, err)
	}
	res := catalog.BackupResult{Status: catalog.StatusFailed, Ended: h.Started,
		Error: "no trailer on tape: the job did not finish (found by catalog rebuild)"}
	if tr != nil {
		res = catalog.BackupResult{Status: catalog.StatusSucceeded, Ended: tr.Ended, Bytes: tr.Bytes,
			DumpDate: tr.DumpDate, Env: tr.Env}
	}
	var n int64
	var ferr error
	if !s.NoFiles && h.Butype == "tar" {
		n, ferr = rebuildFiles(ctx, cat, s, h)
		res.Files = n
		if ferr != nil && tr != nil {
			res.Error = ferr.Error()
		}
	}
	loc := catalog.Location{BackupID: h.BackupID, Barcode: barcode, FileNum: h.ImageFile, RecordSize: h.RecordSize,
		Length: res.Bytes}
	err := errors.Join(cat.AddLocation(ctx, loc), cat.FinishBackup(ctx, h.BackupID, res))
	if err == nil && barcode != "" {
		err = noteMedium(ctx, cat, barcode, h.ImageFile+2, res.Bytes)
	}
	if err != nil {
		return n, fmt.Errorf("dma: recreate backup %d: %w", h.BackupID, err)
	}
	return n, nil
}

// noteMedium records a cartridge seen by a rebuild, with the tape file
// after the last image found on it.
func noteMedium(ctx context.Context, cat catalog.Catalog, barcode string, next int, used int64) error {
	m, err := cat.Medium(ctx, barcode)
	if errors.Is(err, catalog.ErrNotFound) {
		m, err = catalog.Medium{Barcode: barcode, State: "active"}, nil
	}
	if err != nil {
		return err
	}
	m.NextFile = max(m.NextFile, next)
	m.Used += used
	m.Updated = time.Now().UTC()
	return cat.PutMedium(ctx, m)
}

// rebuildFiles reads a tar image back and records its file history as
// ferry's tar engine reports it: the path below the backed-up directory
// with a leading slash, the NDMP attributes, and fh_info = the offset of
// the entry's first header block in the stream (a hard link's, that of the
// entry holding the data).
func rebuildFiles(ctx context.Context, cat catalog.Catalog, s RebuildSpec, h Header) (int64, error) {
	c, err := s.Agent.Dial(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	if err := c.TapeOpen(ctx, s.Drive, wire.TapeReadMode); err != nil {
		return 0, fmt.Errorf("dma: open tape drive %s on %s: %w", s.Drive, s.Agent.Name, err)
	}
	defer c.TapeClose(context.WithoutCancel(ctx))
	if err := seekFile(ctx, c, h.ImageFile); err != nil {
		return 0, err
	}
	in := cat.Ingest(ctx, h.BackupID, catalog.IngestOptions{})
	tr := newTapeReader(ctx, c, h.RecordSize)
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
			rerr = fmt.Errorf("dma: backup %d: image unreadable after %d entries: %w", h.BackupID, in.Count(), err)
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
