package dma

import (
	"context"
	"fmt"
	"hash/crc32"
	"io"

	"ferry/internal/catalog"
	"ferry/internal/format"
	"ferry/internal/restore"
)

// castagnoli is CRC-32C's table.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// maxMismatches caps the differences a verify reports one by one.
const maxMismatches = 100

// VerifySpec describes a verify job: read one backup's image back and
// check it against the catalog without writing anything.
type VerifySpec struct {
	Agent Agent  // agent whose drive holds the cartridge
	Drive string // "" is tape0
	ChangerOptions
	BackupID int64
}

// VerifyResult is the outcome of a verify job.
type VerifyResult struct {
	Entries    int      // entries read from the image
	Bytes      int64    // file data read
	Read       int64    // image bytes read from tape
	Mismatches []string // up to 100 differences, described
	Differ     int      // all differences
	// Checksummed counts the files whose data matched the checksum the
	// agent posted at backup time; 0 when the catalog has none (an agent
	// without ferry's extension), and only names and sizes were checked.
	Checksummed int
}

// Verify reads a backup's image through the agent's TAPE_READ, every
// entry's data included, and checks it against the catalog: the same names
// as the file history, for regular files the same sizes, and each file's
// data against the CRC-32C its agent posted while backing it up. The image
// must read to its end without a stream error.
//
// It is recorded as a verify job that ferry cancel can stop.
func Verify(ctx context.Context, cat catalog.Catalog, s VerifySpec) (VerifyResult, error) {
	return backupJob(ctx, cat, "verify", ImageJobSpec{Backup: s.BackupID, Agent: s.Agent.Name, Drive: s.Drive},
		func(ctx context.Context, p *posts) (VerifyResult, error) { return verifyRun(ctx, cat, s, p) })
}

// verifyRun runs a verify job.
func verifyRun(ctx context.Context, cat catalog.Catalog, s VerifySpec, p *posts) (VerifyResult, error) {
	if s.Drive == "" {
		s.Drive = "tape0"
	}
	var res VerifyResult
	b, err := cat.Backup(ctx, s.BackupID)
	if err != nil {
		return res, fmt.Errorf("%w: %d: %v", ErrNoBackup, s.BackupID, err)
	}
	want, err := catalogued(ctx, cat, b)
	if err != nil {
		return res, err
	}
	sums, err := cat.Checksums(ctx, b.ID)
	if err != nil {
		return res, fmt.Errorf("dma: catalog: %w", err)
	}
	d, closeDrive, err := dialDrive(ctx, s.Agent, p.post, s.Drive, s.ChangerOptions)
	if err != nil {
		return res, err
	}
	defer closeDrive()
	tr, err := openImage(ctx, d, b, 0, readAhead)
	if err != nil {
		return res, err
	}
	defer tr.Close()
	rd := format.NewReader(tr)
	differ := func(format string, a ...any) {
		res.Differ++
		if len(res.Mismatches) < maxMismatches {
			res.Mismatches = append(res.Mismatches, fmt.Sprintf(format, a...))
		}
	}
	for {
		e, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			res.Read = tr.Bytes()
			return res, fmt.Errorf("dma: backup %d: image unreadable after %d entries: %w", b.ID, res.Entries, err)
		}
		res.Entries++
		off := uint64(rd.Offset())
		crc := crc32.New(castagnoli)
		n, err := rd.WriteDataTo(crc)
		res.Bytes += n
		if err != nil {
			return res, fmt.Errorf("dma: backup %d: data of %s unreadable: %w", b.ID, e.Name, err)
		}
		if e.Name == restore.ListingName {
			continue
		}
		p := "/"
		if e.Name != "." {
			p = "/" + e.Name
		}
		f, ok := want[p]
		if !ok {
			differ("%s: in the image, not in the catalog", p)
			continue
		}
		delete(want, p)
		if sum, ok := sums[off]; ok && e.Type == format.Regular {
			if sum != crc.Sum32() {
				differ("%s: data differs from what was backed up (CRC-32C %08x, at backup %08x)", p, crc.Sum32(), sum)
			} else {
				res.Checksummed++
			}
		}
		if e.Type == format.Regular && f.Type == catalog.TypeReg && uint64(e.Size) != f.Size {
			differ("%s: %d bytes in the image, %d in the catalog", p, e.Size, f.Size)
		}
	}
	res.Read = tr.Bytes()
	for p := range want {
		differ("%s: in the catalog, not in the image", p)
	}
	if res.Differ > 0 {
		return res, fmt.Errorf("dma: backup %d differs from its catalog in %d places", b.ID, res.Differ)
	}
	return res, nil
}

// catalogued returns a backup's catalogued files by path.
func catalogued(ctx context.Context, cat catalog.Catalog, b catalog.Backup) (map[string]catalog.File, error) {
	ms, err := cat.Find(ctx, catalog.Query{Glob: "*", BackupID: b.ID, Limit: int(b.Files) + 1})
	if err != nil {
		return nil, fmt.Errorf("dma: catalog: %w", err)
	}
	out := make(map[string]catalog.File, len(ms))
	for _, m := range ms {
		out[m.Path] = m.File
	}
	return out, nil
}
