package dma

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"ferry/internal/ndmp/client"
	"ferry/internal/ndmp/wire"
	"ferry/internal/volume"
)

// ErrForeignTape reports a cartridge whose first record is neither a ferry
// volume label nor a ferry image header: data ferry must not overwrite
// unasked.
var ErrForeignTape = errors.New("dma: the cartridge holds data ferry did not write")

// prepareVolume checks the label of the writable cartridge open on c and
// returns it with the tape file number a new file appends at, the tape
// positioned there. A blank cartridge is labelled (barcode names it when
// known); one whose label names another barcode is refused; one ferry
// wrote before it labelled cartridges is used as it is; anything else is
// refused unless overwrite is set, which labels it afresh. With reuse (the
// catalog holds the cartridge as scratch: every backup on it expired) a
// labelled cartridge is written from just after its label, and one ferry
// wrote before it labelled cartridges is labelled afresh.
func prepareVolume(ctx context.Context, c *client.Conn, barcode string, overwrite, reuse bool) (volume.Label, int, error) {
	if _, err := c.TapeMtio(ctx, wire.MtioREW, 1); err != nil {
		return volume.Label{}, 0, fmt.Errorf("dma: rewind: %w", err)
	}
	buf := make([]byte, volume.MaxRecord+1)
	n, err := c.TapeRead(ctx, buf)
	blank := client.IsNDMP(err, wire.ErrEOM)
	if client.IsNDMP(err, wire.ErrEOF) {
		// A filemark at the beginning: some tape services (Amanda's
		// simulated tape, v3 servers) report blank tape so. Ferry never
		// writes an empty first file, so only data after it is foreign.
		_, err2 := c.TapeRead(ctx, buf)
		blank = client.IsNDMP(err2, wire.ErrEOF) || client.IsNDMP(err2, wire.ErrEOM)
	} else if err != nil && !blank {
		return volume.Label{}, 0, fmt.Errorf("dma: read the cartridge's label: %w", err)
	}
	if err == nil {
		if l, lerr := volume.DecodeLabel(buf[:n]); lerr == nil {
			if barcode != "" && l.Barcode != "" && l.Barcode != barcode {
				return l, 0, fmt.Errorf("%w: the cartridge with barcode %s is labelled %s", ErrWrongTape, barcode, l.Barcode)
			}
			if reuse {
				// After the label's filemark: what follows is erased by
				// the first write.
				if _, err := c.TapeMtio(ctx, wire.MtioFSF, 1); err != nil {
					return l, 0, fmt.Errorf("dma: space over the volume label: %w", err)
				}
				return l, 1, nil
			}
			file, err := appendPosition(ctx, c)
			return l, file, err
		}
		if _, herr := volume.DecodeHeader(buf[:n]); herr == nil && !reuse {
			file, err := appendPosition(ctx, c)
			return volume.Label{Volume: barcode, Barcode: barcode}, file, err
		}
	}
	if !blank && !overwrite && !(reuse && err == nil && isFerryImage(buf[:n])) {
		name := barcode
		if name == "" {
			name = "in the drive"
		}
		return volume.Label{}, 0, fmt.Errorf("%w (cartridge %s); load a blank cartridge, or pass --overwrite-unlabeled to label it and lose what it holds", ErrForeignTape, name)
	}
	host, _ := os.Hostname()
	l := volume.Label{Volume: barcode, Barcode: barcode, Created: time.Now().UTC(), Host: host}
	if l.Volume == "" {
		l.Volume = volume.NewVolumeName()
	}
	if _, err := c.TapeMtio(ctx, wire.MtioREW, 1); err != nil {
		return l, 0, fmt.Errorf("dma: rewind: %w", err)
	}
	if _, err := c.TapeWrite(ctx, l.Encode()); err != nil {
		return l, 0, fmt.Errorf("dma: write volume label: %w", err)
	}
	if _, err := c.TapeMtio(ctx, wire.MtioEOF, 1); err != nil {
		return l, 0, fmt.Errorf("dma: write volume label: %w", err)
	}
	return l, 1, nil
}

// isFerryImage reports whether a first record is a ferry image header.
func isFerryImage(rec []byte) bool {
	_, err := volume.DecodeHeader(rec)
	return err == nil
}
