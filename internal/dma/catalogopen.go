package dma

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"ferry/internal/catalog"
	"ferry/internal/library"
	"ferry/internal/node"
)

// OpenCatalog opens the catalog named by spec (a PostgreSQL URL or DSN, or
// a SQLite file), refusing to start one afresh beside written cartridges:
// a catalog that is missing, empty or unreadable while the state
// directory's library holds written cartridges is an error pointing at
// `ferry catalog rebuild`, or new backups would be numbered as if the
// cartridges were blank. recovering (catalog rebuild, catalog scan) opens,
// and creates, it all the same.
func OpenCatalog(ctx context.Context, spec string, l node.Layout, recovering bool) (catalog.Catalog, error) {
	if !recovering && !catalog.IsPostgres(spec) {
		fi, err := os.Stat(spec)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			err = lostCatalog(l, spec, "missing", "")
		case err == nil && fi.Size() == 0:
			err = lostCatalog(l, spec, "empty", "")
		default:
			err = nil // an unreadable file fails to open below
		}
		if err != nil {
			return nil, err
		}
	}
	cat, err := catalog.Open(ctx, spec)
	if err != nil {
		if !recovering {
			if lerr := lostCatalog(l, spec, fmt.Sprintf("unreadable (%v)", err), "move it aside and "); lerr != nil {
				return nil, lerr
			}
		}
		return nil, fmt.Errorf("open catalog: %w", err)
	}
	if !recovering {
		// A catalog that knows no cartridge and no backup (a new
		// PostgreSQL database, a file another command just created) is
		// as good as missing.
		if err := emptyCatalog(ctx, cat, l, spec); err != nil {
			cat.Close()
			return nil, err
		}
	}
	return cat, nil
}

// ErrCatalogLost is OpenCatalog refusing a missing, empty or unreadable
// catalog beside written cartridges.
var ErrCatalogLost = errors.New("dma: catalog lost beside written cartridges")

// lostError keeps the message users act on, and is ErrCatalogLost.
type lostError struct{ msg string }

func (e *lostError) Error() string { return e.msg }
func (e *lostError) Unwrap() error { return ErrCatalogLost }

// lostCatalog returns an error when the library holds written cartridges,
// else nil: a catalog is started afresh only beside blank ones.
func lostCatalog(l node.Layout, spec, what, hint string) error {
	written, err := library.Written(l.Library())
	if err != nil {
		return fmt.Errorf("the catalog %s is %s, and whether the library holds written cartridges cannot be told: %w", spec, what, err)
	}
	if len(written) == 0 {
		return nil
	}
	cartridges := "cartridges"
	if len(written) == 1 {
		cartridges = "cartridge"
	}
	return &lostError{fmt.Sprintf("the catalog %s is %s but the library holds %d written %s; %srun `ferry catalog rebuild` to recover it from them (or move the library away to start afresh)",
		spec, what, len(written), cartridges, hint)}
}

func emptyCatalog(ctx context.Context, cat catalog.Catalog, l node.Layout, spec string) error {
	ms, err := cat.Media(ctx)
	if err != nil || len(ms) > 0 {
		return err
	}
	bs, err := cat.Backups(ctx, catalog.BackupFilter{})
	if err != nil || len(bs) > 0 {
		return err
	}
	return lostCatalog(l, spec, "empty", "")
}
