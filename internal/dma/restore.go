package dma

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
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
// listing so deleted and renamed files are gone at the end.
//
// It is recorded as a restore job that ferry cancel can stop.
func Restore(ctx context.Context, cat catalog.Catalog, s RestoreSpec) (RestoreResult, error) {
	return backupJob(ctx, cat, "restore", s.BackupID, map[string]any{"backup": s.BackupID, "agent": s.Agent.Name, "drive": s.Drive, "to": s.To, "paths": s.Paths},
		func(ctx context.Context) (RestoreResult, error) { return restoreRun(ctx, cat, s) })
}

// restoreRun runs a restore job.
func restoreRun(ctx context.Context, cat catalog.Catalog, s RestoreSpec) (RestoreResult, error) {
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

	p := newPosts(nil)
	d, closeDrive, err := dialDrive(ctx, s.Agent, p.post, s.Drive, s.ChangerOptions)
	if err != nil {
		return res, err
	}
	defer closeDrive()
	m := newMeter(s.Progress, "restore")
	var (
		mu     sync.Mutex // Report may be called from the extractor's workers
		failed []string
	)
	report := func(r restore.Result) {
		mu.Lock()
		defer mu.Unlock()
		if r.Err != nil && len(failed) < 10 {
			failed = append(failed, r.Name+": "+r.Err.Error())
		}
		if s.Report != nil {
			s.Report(r)
		}
	}
	if files, ok := darPlan(ctx, cat, chain[len(chain)-1], s.Paths); ok {
		// Chosen files the newest backup holds: read just their entries.
		chain = chain[len(chain)-1:]
		sum, n, err := restoreDAR(ctx, d, chain[0], files, root, restore.Options{Overwrite: s.Overwrite, Report: report})
		res.Read, res.Chain, res.Summary = n, []int64{chain[0].ID}, sum
		if err != nil {
			return res, err
		}
		chain = nil
	}
	for i, b := range chain {
		opts := restore.Options{Select: sel, Overwrite: s.Overwrite || i > 0, Report: report}
		sum, n, err := restoreImage(ctx, d, b, root, opts, m, res.Summary)
		res.Read += n
		res.Chain = append(res.Chain, b.ID)
		res.Summary = addSummary(res.Summary, sum)
		if err != nil {
			return res, err
		}
	}
	m.send(res.Read, int64(res.Summary.Restored), 0)
	if res.Summary.Failed > 0 {
		return res, fmt.Errorf("dma: %d entries could not be restored (%s)", res.Summary.Failed, strings.Join(failed, "; "))
	}
	return res, nil
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

// restoreImage reads one backup's image and extracts it.
func restoreImage(ctx context.Context, d *drive, b catalog.Backup, root *os.Root, opts restore.Options, m *meter, before restore.Summary) (restore.Summary, int64, error) {
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
	sum, err := restore.Extract(ctx, root, format.NewReader(ir), opts)
	close(done)
	ir.Close()
	if err != nil {
		return sum, ir.Bytes(), fmt.Errorf("dma: restore backup %d: %w", b.ID, err)
	}
	return sum, ir.Bytes(), nil
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
