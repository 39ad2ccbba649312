package dma

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"ferry/internal/ndmp/client"
	"ferry/internal/ndmp/wire"
)

// labelMagic starts the volume label record; the version follows it.
const labelMagic = "FERRY-VOLUME-LABEL 1\n"

// ErrForeignTape reports a cartridge whose first record is neither a ferry
// volume label nor a ferry image header: data ferry must not overwrite
// unasked.
var ErrForeignTape = errors.New("dma: the cartridge holds data ferry did not write")

// Label is the first tape file of every cartridge ferry writes: which
// cartridge it is, so a job can tell a wrong one before writing on it.
type Label struct {
	Volume  string    `json:"volume"`  // the cartridge's name: its barcode, else one ferry chose
	Barcode string    `json:"barcode"` // the changer's volume tag, when known
	Created time.Time `json:"created"` // UTC
	Host    string    `json:"host"`    // machine running the DMA that labelled it
}

// Encode returns the label record: the magic line, then JSON.
func (l Label) Encode() []byte {
	b, _ := json.Marshal(l) // plain fields only: cannot fail
	return append([]byte(labelMagic), b...)
}

// DecodeLabel parses a volume label record.
func DecodeLabel(b []byte) (Label, error) {
	var l Label
	if err := decodeRecord(b, labelMagic, &l); err != nil {
		return l, err
	}
	if l.Volume == "" {
		return l, fmt.Errorf("%w: label without a volume name", ErrBadHeader)
	}
	return l, nil
}

// newVolumeName names a cartridge whose barcode nobody told the DMA.
func newVolumeName() string {
	var b [4]byte
	rand.Read(b[:])
	return fmt.Sprintf("FERRY-%X", b)
}

// prepareVolume checks the label of the writable cartridge open on c and
// returns it with the tape file number a new file appends at, the tape
// positioned there. A blank cartridge is labelled (barcode names it when
// known); one whose label names another barcode is refused; one ferry
// wrote before it labelled cartridges is used as it is; anything else is
// refused unless overwrite is set, which labels it afresh.
func prepareVolume(ctx context.Context, c *client.Conn, barcode string, overwrite bool) (Label, int, error) {
	if _, err := c.TapeMtio(ctx, wire.MtioREW, 1); err != nil {
		return Label{}, 0, fmt.Errorf("dma: rewind: %w", err)
	}
	buf := make([]byte, maxHeader+1)
	n, err := c.TapeRead(ctx, buf)
	blank := client.IsNDMP(err, wire.ErrEOM)
	if client.IsNDMP(err, wire.ErrEOF) {
		// A filemark at the beginning: some tape services (Amanda's
		// simulated tape, v3 servers) report blank tape so. Ferry never
		// writes an empty first file, so only data after it is foreign.
		_, err2 := c.TapeRead(ctx, buf)
		blank = client.IsNDMP(err2, wire.ErrEOF) || client.IsNDMP(err2, wire.ErrEOM)
	} else if err != nil && !blank {
		return Label{}, 0, fmt.Errorf("dma: read the cartridge's label: %w", err)
	}
	if err == nil {
		if l, lerr := DecodeLabel(buf[:n]); lerr == nil {
			if barcode != "" && l.Barcode != "" && l.Barcode != barcode {
				return l, 0, fmt.Errorf("%w: the cartridge with barcode %s is labelled %s", ErrWrongTape, barcode, l.Barcode)
			}
			file, err := appendPosition(ctx, c)
			return l, file, err
		}
		if _, herr := DecodeHeader(buf[:n]); herr == nil {
			file, err := appendPosition(ctx, c)
			return Label{Volume: barcode, Barcode: barcode}, file, err
		}
	}
	if !blank && !overwrite {
		name := barcode
		if name == "" {
			name = "in the drive"
		}
		return Label{}, 0, fmt.Errorf("%w (cartridge %s); load a blank cartridge, or pass --overwrite-unlabeled to label it and lose what it holds", ErrForeignTape, name)
	}
	host, _ := os.Hostname()
	l := Label{Volume: barcode, Barcode: barcode, Created: time.Now().UTC(), Host: host}
	if l.Volume == "" {
		l.Volume = newVolumeName()
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
