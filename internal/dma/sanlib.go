package dma

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"ferry/internal/catalog"
	"ferry/internal/changer"
	"ferry/internal/scsi/smc"
)

// Peripheral device types of the LUs a serverless job uses.
const (
	pdtDisk    = 0x00
	pdtTape    = 0x01
	pdtChanger = 0x08
)

// sanUnits is what a target offers a serverless job: its tape drives
// (by LUN) and its changer, if any.
type sanUnits struct {
	tapes      []uint64
	changer    uint64
	hasChanger bool
}

// units lists the target's LUs by type (REPORT LUNS, then INQUIRY).
func (c *san) units(ctx context.Context) (sanUnits, error) {
	var u sanUnits
	cdb := make([]byte, 12)
	cdb[0] = 0xA0
	binary.BigEndian.PutUint32(cdb[6:], 8+8*256)
	r, err := c.do(ctx, 0, cdb, nil, 8+8*256)
	if err != nil {
		return u, fmt.Errorf("dma: REPORT LUNS of %s: %w", c.url.Portal(), err)
	}
	for p := r.Data[min(8, len(r.Data)):]; len(p) >= 8; p = p[8:] {
		lun := uint64(p[0]&0x3F)<<8 | uint64(p[1])
		inq, err := c.do(ctx, lun, []byte{0x12, 0, 0, 0, 36, 0}, nil, 36)
		if err != nil || len(inq.Data) < 1 {
			continue
		}
		switch inq.Data[0] & 0x1F {
		case pdtTape:
			u.tapes = append(u.tapes, lun)
		case pdtChanger:
			if !u.hasChanger {
				u.changer, u.hasChanger = lun, true
			}
		}
	}
	slices.Sort(u.tapes)
	return u, nil
}

// elements reads the changer's element status.
func (c *san) elements(ctx context.Context, lun uint64) ([]changer.Element, error) {
	const alloc = 1 << 16
	r, err := c.do(ctx, lun, smc.ReadElementStatusCDB(alloc), nil, alloc)
	if err != nil {
		return nil, fmt.Errorf("dma: READ ELEMENT STATUS of %s: %w", c.url.Portal(), err)
	}
	return smc.DecodeElementStatus(r.Data)
}

// driveLUNs pairs the changer's drive elements, by address, with the
// target's tape LUs, by LUN: how ferry's target (and most libraries)
// number them (docs/dma.md, Serverless backup).
func driveLUNs(els []changer.Element, tapes []uint64) map[uint16]uint64 {
	var drives []uint16
	for _, e := range els {
		if e.Type == changer.DataTransfer {
			drives = append(drives, e.Address)
		}
	}
	slices.Sort(drives)
	m := map[uint16]uint64{}
	for i, a := range drives {
		if i < len(tapes) {
			m[a] = tapes[i]
		}
	}
	return m
}

// usable reports whether a backup may append to the cartridge with
// barcode, as far as the catalog knows it.
func usable(ctx context.Context, cat catalog.MediaCatalog, barcode string) bool {
	m, err := cat.Medium(ctx, barcode)
	if errors.Is(err, catalog.ErrNotFound) {
		return true
	}
	return err == nil && (m.State == catalog.MediaScratch || m.State == catalog.MediaAppend || m.State == "")
}

// loadFor finds a drive for a job on the target's library: with barcode,
// the drive holding it (moving it there from its slot when no drive
// does); without, a drive holding a usable cartridge, else an empty drive
// into which it moves a usable cartridge from a slot. It returns the
// drive's LUN and the cartridge's barcode.
func (c *san) loadFor(ctx context.Context, cat catalog.MediaCatalog, barcode string) (uint64, string, error) {
	u, err := c.units(ctx)
	if err != nil {
		return 0, "", err
	}
	if !u.hasChanger {
		if len(u.tapes) == 0 {
			return 0, "", fmt.Errorf("dma: %s has no tape drive", c.url.Portal())
		}
		return u.tapes[0], "", nil
	}
	els, err := c.elements(ctx, u.changer)
	if err != nil {
		return 0, "", err
	}
	luns := driveLUNs(els, u.tapes)
	want := func(e changer.Element) bool {
		if barcode != "" {
			return e.Barcode == barcode
		}
		return usable(ctx, cat, e.Barcode)
	}
	var empty, from, transport *changer.Element
	for i := range els {
		e := &els[i]
		switch {
		case e.Type == changer.DataTransfer && e.Full && want(*e):
			if lun, ok := luns[e.Address]; ok {
				return lun, e.Barcode, nil
			}
		case e.Type == changer.DataTransfer && !e.Full && empty == nil:
			if _, ok := luns[e.Address]; ok {
				empty = e
			}
		case e.Type == changer.Storage && e.Full && from == nil && want(*e):
			from = e
		case e.Type == changer.Transport && transport == nil:
			transport = e
		}
	}
	if empty == nil || from == nil {
		if barcode != "" {
			return 0, "", fmt.Errorf("dma: cartridge %s is in no drive nor slot of %s, or no drive is empty to load it", barcode, c.url.Portal())
		}
		return 0, "", fmt.Errorf("%w (%s)", ErrNoUsableDrive, c.url.Portal())
	}
	var ta uint16
	if transport != nil {
		ta = transport.Address
	}
	if _, err := c.do(ctx, u.changer, smc.MoveMediumCDB(ta, from.Address, empty.Address), nil, 0); err != nil {
		return 0, "", fmt.Errorf("dma: load %s into drive %d of %s: %w", from.Barcode, empty.Address, c.url.Portal(), err)
	}
	return luns[empty.Address], from.Barcode, nil
}
