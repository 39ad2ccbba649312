// Package volume is the format of ferry's records on tape: the volume label
// that starts every cartridge, and the header and trailer around every
// backup image, which make a cartridge self-describing (a catalog can be
// rebuilt from cartridges alone). It holds no I/O: the data manager writes
// the records through an NDMP tape service, a serverless backup through a
// copy manager. docs/dma.md, Tape layout.
package volume

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"ferry/internal/catalog"
)

// headerMagic starts the header record; the version follows it.
const headerMagic = "FERRY-IMAGE-HEADER 1\n"

// MaxRecord caps a label, header or trailer record.
const MaxRecord = 64 << 10

// ErrBadRecord reports a tape record that is not the ferry record asked for.
var ErrBadRecord = errors.New("volume: not a ferry volume record")

// Header is the self-describing record ferry writes as a tape file of its
// own before every backup image, so a catalog can be rebuilt from
// cartridges alone. UUID is the backup's identity: BackupID is only the
// number the writing catalog gave it, and two backups on one cartridge may
// share it (a catalog lost, then restored from an old copy). Headers
// written before identities existed have no UUID nor BaseUUID (Identity).
type Header struct {
	BackupID   int64     `json:"backup_id"`
	UUID       string    `json:"uuid,omitempty"`      // the backup's identity
	BaseUUID   string    `json:"base_uuid,omitempty"` // identity of the backup this one is based on
	Agent      string    `json:"agent"`               // data agent
	Path       string    `json:"path"`                // backed-up directory
	Butype     string    `json:"butype"`              // backup method
	Level      int       `json:"level"`               // 0 full, N incremental
	BaseID     int64     `json:"base_id"`             // backup this one is based on (0: none)
	BaseToken  string    `json:"base_token"`          // BASE_DATE sent
	Started    time.Time `json:"started"`             // UTC
	Host       string    `json:"host"`                // machine running the DMA
	Barcode    string    `json:"barcode"`             // cartridge, when known
	ImageFile  int       `json:"image_file"`          // tape file number of the image (header's + 1)
	RecordSize int       `json:"record_size"`         // bytes per record of the image
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
	if h.BackupID < 0 || h.ImageFile < 1 || h.Level < 0 || h.Part < 0 || h.Offset < 0 || !optionalUUID(h.UUID) ||
		!optionalUUID(h.BaseUUID) {
		return h, fmt.Errorf("%w: bad fields", ErrBadRecord)
	}
	return h, nil
}

func optionalUUID(s string) bool { return s == "" || catalog.ValidUUID(s) }

// Identity returns the backup's identity: its UUID, or for a header
// written before backups had one, a UUID derived from what tells that
// backup apart (number, agent, path, level, method, start to the
// nanosecond, host), the same for every piece of it and every time it is
// read, so rebuilding twice finds the same backup.
func (h Header) Identity() string {
	if h.UUID != "" {
		return h.UUID
	}
	sum := sha256.New()
	for _, f := range []string{"ferry image header 1", strconv.FormatInt(h.BackupID, 10), h.Agent, h.Path,
		strconv.Itoa(h.Level), h.Butype, h.Started.UTC().Format(time.RFC3339Nano), h.Host} {
		sum.Write([]byte(f))
		sum.Write([]byte{0})
	}
	var b [16]byte
	copy(b[:], sum.Sum(nil))
	return catalog.FormatUUID(b, 8) // version 8: custom, never a random v4
}

// decodeRecord parses a magic line and the JSON object after it into v.
func decodeRecord(b []byte, magic string, v any) error {
	if len(b) > MaxRecord {
		return fmt.Errorf("%w: %d bytes", ErrBadRecord, len(b))
	}
	rest, ok := bytes.CutPrefix(b, []byte(magic))
	if !ok {
		return ErrBadRecord
	}
	if err := json.Unmarshal(rest, v); err != nil {
		return fmt.Errorf("%w: %v", ErrBadRecord, err)
	}
	return nil
}

// Heads reports whether h is the header of catalog backup b: by identity,
// or for a backup recorded before identities existed, by number.
func (h Header) Heads(b catalog.Backup) bool {
	if b.UUID != "" {
		return h.Identity() == b.UUID
	}
	return h.BackupID == b.ID
}

// trailerMagic starts the trailer record.
const trailerMagic = "FERRY-IMAGE-TRAILER 1\n"

// Trailer is the record ferry writes as a tape file of its own after a
// backup image the agent finished: what the header could not know yet.
// An image without one is a backup that did not finish.
type Trailer struct {
	BackupID int64         `json:"backup_id"`
	UUID     string        `json:"uuid,omitempty"` // the header's (none in trailers written before identities)
	Ended    time.Time     `json:"ended"`          // UTC
	Bytes    int64         `json:"bytes"`          // image length (the mover's bytes moved)
	DumpDate string        `json:"dump_date"`      // the agent's DUMP_DATE: the base of the next incremental
	Env      []catalog.Env `json:"env"`            // the environment the agent returned
}

// Encode returns the trailer record: the magic line, then JSON.
func (t Trailer) Encode() []byte {
	b, _ := json.Marshal(t) // plain fields only: cannot fail
	return append([]byte(trailerMagic), b...)
}

// Follows reports whether t is the trailer of the backup h heads.
func (t Trailer) Follows(h Header) bool {
	return t.BackupID == h.BackupID && t.UUID == h.UUID
}

// DecodeTrailer parses a trailer record.
func DecodeTrailer(b []byte) (Trailer, error) {
	var t Trailer
	if err := decodeRecord(b, trailerMagic, &t); err != nil {
		return t, err
	}
	if t.BackupID <= 0 || t.Bytes < 0 || !optionalUUID(t.UUID) {
		return t, fmt.Errorf("%w: bad trailer fields", ErrBadRecord)
	}
	return t, nil
}
