package dma

import (
	"context"
	"fmt"
	"slices"
	"time"

	"ferry/internal/catalog"
)

// PruneResult says what a prune expired and freed.
type PruneResult struct {
	DryRun  bool    `json:"dry_run"`
	Expired []int64 `json:"expired"` // backups past their retention, now expired
	// Freed are the cartridges returned to scratch: every backup with a
	// piece on them expired, failed or was cancelled. The next backup of
	// their pool writes them from the start.
	Freed []string `json:"freed"`
	// FreedBytes is the image bytes the freed cartridges held.
	FreedBytes int64 `json:"freed_bytes"`
}

// Prune expires the backups whose retention passed at now (never a full or
// lower level a kept incremental depends on) and returns to scratch the
// cartridges (append or full; never frozen, retired or in error) that hold
// nothing kept. With dryRun it only says what it would do.
func Prune(ctx context.Context, cat catalog.Catalog, now time.Time, dryRun bool) (PruneResult, error) {
	res := PruneResult{DryRun: dryRun, Expired: []int64{}, Freed: []string{}}
	var err error
	if dryRun {
		res.Expired, err = cat.Expirable(ctx, now)
	} else {
		res.Expired, err = cat.Expire(ctx, now)
	}
	if err != nil {
		return res, fmt.Errorf("dma: expire backups: %w", err)
	}
	ms, err := cat.Media(ctx)
	if err != nil {
		return res, err
	}
	status := map[int64]string{}
	for _, m := range ms {
		if m.State != catalog.MediaAppend && m.State != catalog.MediaFull {
			continue
		}
		locs, err := cat.OnMedium(ctx, m.Barcode)
		if err != nil {
			return res, err
		}
		kept := false
		for _, l := range locs {
			st, ok := status[l.BackupID]
			if !ok {
				b, err := cat.Backup(ctx, l.BackupID)
				if err != nil {
					return res, fmt.Errorf("dma: backup %d on cartridge %s: %w", l.BackupID, m.Barcode, err)
				}
				st = b.Status
				if slices.Contains(res.Expired, b.ID) {
					st = catalog.StatusExpired
				}
				status[l.BackupID] = st
			}
			if st != catalog.StatusExpired && st != catalog.StatusFailed && st != catalog.StatusCancelled {
				kept = true
				break
			}
		}
		if kept || len(locs) == 0 {
			continue
		}
		res.Freed = append(res.Freed, m.Barcode)
		res.FreedBytes += m.Used
		if dryRun {
			continue
		}
		if err := m.Move(catalog.MediaScratch); err != nil {
			return res, err
		}
		m.Used, m.NextFile, m.Updated = 0, 1, now
		if err := cat.PutMedium(ctx, m); err != nil {
			return res, err
		}
	}
	return res, nil
}
