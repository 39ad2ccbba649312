package dma

import (
	"context"
	"errors"
	"fmt"
	"time"

	"ferry/internal/catalog"
	"ferry/internal/ndmp/client"
	"ferry/internal/ndmp/wire"
)

// damagedTape explains a refused writable open of the cartridge barcode.
// Ferry's tape agent refuses a damaged cartridge with WRITE_PROTECT and
// posts why (where its data ends, what it lost) as NDMP_LOG_MESSAGE just
// before; then the cartridge is recorded in error in the catalog and the
// error says so. Any other error is returned as it is.
func damagedTape(ctx context.Context, cat catalog.Catalog, barcode string, p *posts, err error) error {
	if !client.IsNDMP(err, wire.ErrWriteProtect) {
		return err
	}
	cause := p.waitError()
	if cause == "" {
		return err // a write-protect tab, not damage
	}
	err = fmt.Errorf("dma: cartridge %s is damaged and was not written: %s: %w", barcode, cause, err)
	if barcode == "" {
		return err
	}
	if merr := markMedium(ctx, cat, barcode, catalog.MediaError); merr != nil {
		return errors.Join(err, fmt.Errorf("dma: catalog: %w", merr))
	}
	return err
}

// markMedium sets the catalog state of a cartridge, recording it if the
// catalog does not know it.
func markMedium(ctx context.Context, cat catalog.MediaCatalog, barcode string, state catalog.MediaState) error {
	m, err := cat.Medium(ctx, barcode)
	if errors.Is(err, catalog.ErrNotFound) {
		m, err = catalog.Medium{Barcode: barcode, Label: barcode}, nil
	}
	if err != nil {
		return err
	}
	if err := m.Move(state); err != nil {
		return err
	}
	m.Updated = time.Now().UTC()
	return cat.PutMedium(ctx, m)
}
