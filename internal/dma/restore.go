package dma

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"ferry/internal/catalog"
	"ferry/internal/format"
	"ferry/internal/restore"
)

// RestoreSpec describes a restore job into a local directory.
type RestoreSpec struct {
	Agent Agent  // agent whose drive holds the backup's cartridge
	Drive string // "" is tape0
	ChangerOptions
	BackupID  int64    // the backup; an incremental brings its chain
	To        string   // local destination directory (created if missing)
	Paths     []string // relative to the backed-up directory; none: everything
	Overwrite bool     // replace existing files (later backups of a chain always do)
	// KeepDamaged keeps a file whose data fails its backup checksum as
	// NAME.ferry-damaged instead of removing it (the restore still fails).
	KeepDamaged bool
	// Progress receives events about once a second; never waited for.
	Progress chan<- Progress
	// Report receives the result of every entry (nil: dropped), one call
	// at a time.
	Report func(restore.Result)
}

// RestoreResult is the outcome of a restore job.
type RestoreResult struct {
	Chain   []int64 // backups applied, full first
	Summary restore.Summary
	Read    int64 // image bytes read from tape
}

// Restore restores a backup into a local directory: the images of its
// chain (the full backup first, then each incremental) are read back
// through the agent's TAPE_READ, after checking each one's header, and
// extracted with internal/restore, which also applies each incremental's
// listing so deleted and renamed files are gone at the end: only names
// this restore wrote from an earlier backup of the chain go (with
// Overwrite also what the destination held within the chosen paths), and
// nothing goes once an entry has failed.
//
// Each regular file's data is checked against the CRC-32C its agent
// posted at backup time (catalog.Checksums): a file that differs is not
// restored (or kept as NAME.ferry-damaged) and fails the restore. Each
// image read whole must deliver as many entries as the catalog lists;
// the missing ones are named.
//
// It is recorded as a restore job that ferry cancel can stop.
func Restore(ctx context.Context, cat catalog.Catalog, s RestoreSpec) (RestoreResult, error) {
	return backupJob(ctx, cat, "restore", ImageJobSpec{Backup: s.BackupID, Agent: s.Agent.Name, Drive: s.Drive, To: s.To, Paths: s.Paths},
		func(ctx context.Context, p *posts) (RestoreResult, error) { return restoreRun(ctx, cat, s, p) })
}

// restoreRun runs a restore job.
func restoreRun(ctx context.Context, cat catalog.Catalog, s RestoreSpec, p *posts) (RestoreResult, error) {
	if s.Drive == "" {
		s.Drive = "tape0"
	}
	var res RestoreResult
	chain, err := restoreChain(ctx, cat, s.BackupID)
	if err != nil {
		return res, err
	}
	sel, err := selector(s.Paths)
	if err != nil {
		return res, err
	}
	if err := os.MkdirAll(s.To, 0o755); err != nil {
		return res, fmt.Errorf("dma: restore destination: %w", err)
	}
	root, err := os.OpenRoot(s.To)
	if err != nil {
		return res, fmt.Errorf("dma: restore destination: %w", err)
	}
	defer root.Close()

	d, closeDrive, err := dialDrive(ctx, s.Agent, p.post, s.Drive, s.ChangerOptions)
	if err != nil {
		return res, err
	}
	defer closeDrive()
	m := newMeter(s.Progress, "restore")
	var (
		mu       sync.Mutex // Report may be called from the extractor's workers
		failed   []string
		damaged  []string // names, up to maxNamed
		nDamaged int
	)
	report := func(r restore.Result) {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case errors.Is(r.Err, restore.ErrDamaged):
			nDamaged++
			if len(damaged) < maxNamed {
				damaged = append(damaged, r.Name)
			}
		case r.Err != nil && len(failed) < 10:
			failed = append(failed, r.Name+": "+r.Err.Error())
		}
		if s.Report != nil {
			s.Report(r)
		}
	}
	if files, ok := darPlan(ctx, cat, chain[len(chain)-1], s.Paths); ok {
		// Chosen files the newest backup holds: read just their entries.
		chain = chain[len(chain)-1:]
		opts := restore.Options{Overwrite: s.Overwrite, Report: report, KeepDamaged: s.KeepDamaged}
		if opts.Checksum, err = checksumsOf(ctx, cat, chain[0]); err != nil {
			return res, err
		}
		sum, n, err := restoreDAR(ctx, d, chain[0], files, root, opts)
		res.Read, res.Chain, res.Summary = n, []int64{chain[0].ID}, sum
		if err != nil {
			return res, err
		}
		chain = nil
	}
	var written *restore.Written
	if len(chain) > 1 {
		written = restore.NewWritten() // what a later listing may remove
	}
	var short []error
	for i, b := range chain {
		opts := restore.Options{Select: sel, Overwrite: s.Overwrite || i > 0, Report: report, KeepDamaged: s.KeepDamaged,
			Written: written, PruneExisting: s.Overwrite, NoPrune: res.Summary.Failed > 0 || len(short) > 0}
		sums, err := checksumsOf(ctx, cat, b)
		if err != nil {
			return res, err
		}
		opts.Checksum = sums
		sum, n, err := restoreImage(ctx, cat, d, b, root, opts, m, res.Summary)
		res.Read += n
		res.Chain = append(res.Chain, b.ID)
		res.Summary = addSummary(res.Summary, sum)
		var se *ShortImageError
		if errors.As(err, &se) {
			short = append(short, err)
			continue
		}
		if err != nil {
			return res, err
		}
	}
	m.send(res.Read, int64(res.Summary.Restored), 0)
	var errs []error
	if nDamaged > 0 {
		more := ""
		if nDamaged > len(damaged) {
			more = fmt.Sprintf(" and %d more", nDamaged-len(damaged))
		}
		errs = append(errs, fmt.Errorf("%w (%d): %s%s", ErrDamaged, nDamaged, strings.Join(damaged, ", "), more))
	}
	if res.Summary.Failed > nDamaged {
		errs = append(errs, fmt.Errorf("dma: %d entries could not be restored (%s)", res.Summary.Failed-nDamaged, strings.Join(failed, "; ")))
	}
	errs = append(errs, short...)
	return res, errors.Join(errs...)
}

// maxNamed caps the names a restore's error lists.
const maxNamed = 100

// ErrDamaged: files whose data on tape differs from what was backed up
// (their CRC-32C); they were not restored.
var ErrDamaged = errors.New("dma: data on tape differs from what was backed up, files not restored")

// ShortImageError reports an image that delivered fewer entries than the
// catalog lists for it.
type ShortImageError struct {
	BackupID  int64
	Catalog   int64    // entries the catalog lists
	Delivered int64    // entries the image delivered
	Missing   []string // catalog paths not delivered, up to maxNamed
}

func (e *ShortImageError) Error() string {
	s := fmt.Sprintf("dma: backup %d: the image delivered %d of the catalog's %d entries", e.BackupID, e.Delivered, e.Catalog)
	if len(e.Missing) > 0 {
		s += "; missing: " + strings.Join(e.Missing, ", ")
		if more := e.Catalog - e.Delivered - int64(len(e.Missing)); more > 0 {
			s += fmt.Sprintf(" and %d more", more)
		}
	}
	return s
}

// checksumsOf returns a lookup of the data checksums the catalog holds for
// b (nil when it holds none: an agent without ferry's extension).
func checksumsOf(ctx context.Context, cat catalog.Catalog, b catalog.Backup) (func(int64) (uint32, bool), error) {
	sums, err := cat.Checksums(ctx, b.ID)
	if err != nil {
		return nil, fmt.Errorf("dma: catalog: backup %d checksums: %w", b.ID, err)
	}
	if len(sums) == 0 {
		return nil, nil
	}
	return func(off int64) (uint32, bool) {
		v, ok := sums[uint64(off)]
		return v, ok
	}, nil
}

// restoreChain returns the backups to apply for id, the full one first,
// each with its tape location.
func restoreChain(ctx context.Context, cat catalog.Catalog, id int64) ([]catalog.Backup, error) {
	chain, err := cat.Chain(ctx, id)
	if errors.Is(err, catalog.ErrNotFound) {
		return nil, fmt.Errorf("%w: %d (ferry backups lists them)", ErrNoBackup, id)
	}
	if err != nil {
		return nil, fmt.Errorf("dma: catalog: %w", err)
	}
	out := make([]catalog.Backup, 0, len(chain))
	for _, c := range chain {
		b, err := cat.Backup(ctx, c.ID)
		if err != nil {
			return nil, fmt.Errorf("dma: catalog: backup %d: %w", c.ID, err)
		}
		if !b.Completed() {
			return nil, fmt.Errorf("dma: backup %d (in the chain of %d) %s; it cannot be restored", b.ID, id, b.Status)
		}
		if len(b.Locations) == 0 {
			return nil, fmt.Errorf("%w: backup %d", ErrNotOnTape, b.ID)
		}
		out = append(out, b)
	}
	return out, nil
}

// restoreImage reads one backup's image and extracts it. An image that
// ends (without a stream error) before delivering every entry the catalog
// lists for it returns a *ShortImageError; the check needs the catalog's
// checksums, which only ferry's data service posts and whose file history
// matches its stream entry for entry.
func restoreImage(ctx context.Context, cat catalog.Catalog, d *drive, b catalog.Backup, root *os.Root, opts restore.Options, m *meter, before restore.Summary) (restore.Summary, int64, error) {
	ir, err := openImage(ctx, d, b, 0, readAhead)
	if err != nil {
		return restore.Summary{}, 0, err
	}
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				m.send(ir.Bytes(), int64(before.Restored), 0)
			}
		}
	}()
	src := &offsetLog{Reader: format.NewReader(ir)}
	opts.Offset = src.Offset
	if opts.Checksum != nil {
		opts.Entries = b.Files
	}
	sum, err := restore.Extract(ctx, root, src, opts)
	close(done)
	ir.Close()
	var se *restore.ShortError
	if errors.As(err, &se) {
		return sum, ir.Bytes(), shortImage(ctx, cat, b, se.Got, src.offs)
	}
	if err != nil {
		return sum, ir.Bytes(), fmt.Errorf("dma: restore backup %d: %w", b.ID, err)
	}
	return sum, ir.Bytes(), nil
}

// offsetLog is a stream whose entries' header offsets are noted, in
// stream order (ascending): 8 bytes an entry.
type offsetLog struct {
	*format.Reader
	offs []int64
}

func (o *offsetLog) Next() (*format.Entry, error) {
	e, err := o.Reader.Next()
	if err == nil {
		o.offs = append(o.offs, o.Reader.Offset())
	}
	return e, err
}

// shortImage names the catalogued entries of b whose header offset the
// image did not deliver (a hard link's fh_info is its data's, so a missing
// link may go unnamed; the count still tells).
func shortImage(ctx context.Context, cat catalog.Catalog, b catalog.Backup, delivered int64, offs []int64) error {
	e := &ShortImageError{BackupID: b.ID, Catalog: b.Files, Delivered: delivered}
	files, err := catalogued(ctx, cat, b)
	if err != nil {
		return errors.Join(e, err)
	}
	for p, f := range files {
		if _, ok := slices.BinarySearch(offs, int64(f.FhInfo)); !ok {
			e.Missing = append(e.Missing, p)
		}
	}
	slices.Sort(e.Missing)
	if len(e.Missing) > maxNamed {
		e.Missing = e.Missing[:maxNamed]
	}
	return e
}

// selector maps chosen paths (relative to the backed-up directory) to a
// restore.Options.Select; none selects everything.
func selector(paths []string) (func(string) (string, bool), error) {
	if len(paths) == 0 {
		return nil, nil
	}
	clean := make([]string, 0, len(paths))
	for _, p := range paths {
		c := strings.Trim(path.Clean("/"+p), "/")
		if c == "" {
			return nil, nil // "/" or ".": everything
		}
		clean = append(clean, c)
	}
	return func(name string) (string, bool) {
		for _, c := range clean {
			if name == c || strings.HasPrefix(name, c+"/") {
				return name, true
			}
		}
		return "", false
	}, nil
}

func addSummary(a, b restore.Summary) restore.Summary {
	a.Restored += b.Restored
	a.Skipped += b.Skipped
	a.Failed += b.Failed
	a.Removed += b.Removed
	a.Bytes += b.Bytes
	return a
}
