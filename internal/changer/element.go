package changer

import "fmt"

// ElementType is an SMC element type code (SMC-3 table "element type code").
type ElementType uint8

// The element types of a media changer, with their SMC codes.
const (
	Transport    ElementType = 1 // medium transport element: the robot's picker
	Storage      ElementType = 2 // storage element: a slot
	ImportExport ElementType = 3 // import/export element: a mail slot
	DataTransfer ElementType = 4 // data transfer element: a drive
)

// String returns the element type's short name.
func (t ElementType) String() string {
	switch t {
	case Transport:
		return "transport"
	case Storage:
		return "storage"
	case ImportExport:
		return "import/export"
	case DataTransfer:
		return "data transfer"
	}
	return fmt.Sprintf("element type %d", uint8(t))
}

// The address plan: the first address of each element type.
const (
	TransportAddress uint16 = 0x0001
	ImportExportBase uint16 = 0x0010
	DriveBase        uint16 = 0x0100
	SlotBase         uint16 = 0x1000
)

// Upper bounds on the number of elements of each type, so that the ranges of
// the address plan never overlap.
const (
	MaxImportExport = int(DriveBase - ImportExportBase)
	MaxDrives       = int(SlotBase - DriveBase)
	MaxSlots        = 0x10000 - int(SlotBase)
)

// MaxBarcode is the longest volume tag: the volume identifier field of an
// SMC primary volume tag is 32 bytes.
const MaxBarcode = 32

// Element is a snapshot of one element of the changer.
type Element struct {
	Type      ElementType
	Address   uint16
	Full      bool
	Barcode   string // volume tag of the cartridge held; "" when empty
	Source    uint16 // last storage element the cartridge was moved from (SMC-3); valid when HasSource
	HasSource bool
	Drive     string // DataTransfer elements only: the drive's name, e.g. "tape0"
}

// clear empties the element.
func (e *Element) clear() {
	e.Full, e.Barcode, e.Source, e.HasSource = false, "", 0, false
}

// validBarcode reports whether s can be reported as a primary volume tag:
// at most MaxBarcode printable ASCII characters without spaces (the SMC
// field is space padded, so a space would not survive the round trip).
func validBarcode(s string) bool {
	if len(s) > MaxBarcode {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}
