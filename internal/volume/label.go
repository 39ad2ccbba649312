package volume

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"time"
)

// labelMagic starts the volume label record; the version follows it.
const labelMagic = "FERRY-VOLUME-LABEL 1\n"

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
		return l, fmt.Errorf("%w: label without a volume name", ErrBadRecord)
	}
	return l, nil
}

// NewVolumeName names a cartridge whose barcode nobody told the DMA.
func NewVolumeName() string {
	var b [4]byte
	rand.Read(b[:])
	return fmt.Sprintf("FERRY-%X", b)
}
