package dma

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"ferry/internal/catalog"
)

// headerMagic starts the header record; the version follows it.
const headerMagic = "FERRY-IMAGE-HEADER 1\n"

// maxHeader caps a header record.
const maxHeader = 64 << 10

// ErrBadHeader reports a tape file that is not a ferry image header.
var ErrBadHeader = errors.New("dma: not a ferry image header")

// Header is the self-describing record ferry writes as a tape file of its
// own before every backup image, so a catalog can be rebuilt from
// cartridges alone.
type Header struct {
	BackupID   int64     `json:"backup_id"`
	Agent      string    `json:"agent"`       // data agent
	Path       string    `json:"path"`        // backed-up directory
	Butype     string    `json:"butype"`      // backup method
	Level      int       `json:"level"`       // 0 full, N incremental
	BaseID     int64     `json:"base_id"`     // backup this one is based on (0: none)
	BaseToken  string    `json:"base_token"`  // BASE_DATE sent
	Started    time.Time `json:"started"`     // UTC
	Host       string    `json:"host"`        // machine running the DMA
	Barcode    string    `json:"barcode"`     // cartridge, when known
	ImageFile  int       `json:"image_file"`  // tape file number of the image (header's + 1)
	RecordSize int       `json:"record_size"` // bytes per record of the image
	// A backup spanning cartridges has a header before each piece.
	Part   int   `json:"part,omitempty"`   // piece on this cartridge: 0 the first
	Offset int64 `json:"offset,omitempty"` // stream offset the piece starts at
}

// Encode returns the header record: the magic line, then JSON.
func (h Header) Encode() []byte {
	b, _ := json.Marshal(h) // plain fields only: cannot fail
	return append([]byte(headerMagic), b...)
}

// DecodeHeader parses a header record.
func DecodeHeader(b []byte) (Header, error) {
	var h Header
	if err := decodeRecord(b, headerMagic, &h); err != nil {
		return h, err
	}
	if h.BackupID < 0 || h.ImageFile < 1 || h.Level < 0 || h.Part < 0 || h.Offset < 0 {
		return h, fmt.Errorf("%w: bad fields", ErrBadHeader)
	}
	return h, nil
}

// decodeRecord parses a magic line and the JSON object after it into v.
func decodeRecord(b []byte, magic string, v any) error {
	if len(b) > maxHeader {
		return fmt.Errorf("%w: %d bytes", ErrBadHeader, len(b))
	}
	rest, ok := bytes.CutPrefix(b, []byte(magic))
	if !ok {
		return ErrBadHeader
	}
	if err := json.Unmarshal(rest, v); err != nil {
		return fmt.Errorf("%w: %v", ErrBadHeader, err)
	}
	return nil
}

// trailerMagic starts the trailer record.
const trailerMagic = "FERRY-IMAGE-TRAILER 1\n"

// Trailer is the record ferry writes as a tape file of its own after a
// backup image the agent finished: what the header could not know yet.
// An image without one is a backup that did not finish.
type Trailer struct {
	BackupID int64         `json:"backup_id"`
	Ended    time.Time     `json:"ended"`     // UTC
	Bytes    int64         `json:"bytes"`     // image length (the mover's bytes moved)
	DumpDate string        `json:"dump_date"` // the agent's DUMP_DATE: the base of the next incremental
	Env      []catalog.Env `json:"env"`       // the environment the agent returned
}

// Encode returns the trailer record: the magic line, then JSON.
func (t Trailer) Encode() []byte {
	b, _ := json.Marshal(t) // plain fields only: cannot fail
	return append([]byte(trailerMagic), b...)
}

// DecodeTrailer parses a trailer record.
func DecodeTrailer(b []byte) (Trailer, error) {
	var t Trailer
	if err := decodeRecord(b, trailerMagic, &t); err != nil {
		return t, err
	}
	if t.BackupID <= 0 || t.Bytes < 0 {
		return t, fmt.Errorf("%w: bad trailer fields", ErrBadHeader)
	}
	return t, nil
}
