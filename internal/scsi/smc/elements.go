package smc

import (
	"context"
	"encoding/binary"
	"slices"

	"ferry/internal/changer"
	"ferry/internal/scsi"
)

// allocRES is READ ELEMENT STATUS's allocation length: bytes 7-9.
var allocRES = scsi.Field{Offset: 7, Size: 3}

// Sizes of the parts of element status data (SMC-3 6.11).
const (
	statusHeaderLen = 8
	pageHeaderLen   = 8
	descBaseLen     = 12 // address, flags, ASC/ASCQ, source
	volTagLen       = 36 // volume identifier (32), reserved (2), sequence (2)
	identHeaderLen  = 4  // code set, identifier type, reserved, identifier length
	dvcidLen        = 32 // the drive name, space padded
)

// resRequest is a decoded READ ELEMENT STATUS CDB.
type resRequest struct {
	voltag, dvcid bool
	typ           changer.ElementType // 0: all types
	start, count  uint16
	alloc         uint32
}

// parseRES decodes and checks a READ ELEMENT STATUS CDB.
func parseRES(cdb []byte) (resRequest, error) {
	r := resRequest{
		voltag: cdb[1]&0x10 != 0,
		typ:    changer.ElementType(cdb[1] & 0x0F),
		start:  binary.BigEndian.Uint16(cdb[2:4]),
		count:  binary.BigEndian.Uint16(cdb[4:6]),
		dvcid:  cdb[6]&0x01 != 0,
		alloc:  allocRES.Get(cdb),
	}
	if r.typ > changer.DataTransfer {
		return r, scsi.InvalidFieldInCDB(1, 3)
	}
	return r, nil
}

// readElementStatus serves READ ELEMENT STATUS (0xB8).
func (d *Device) readElementStatus(_ context.Context, cmd *scsi.Command) error {
	r, err := parseRES(cmd.CDB)
	if err != nil {
		return err
	}
	els, err := d.elements()
	if err != nil {
		return err
	}
	sel, err := r.selectElements(els)
	if err != nil {
		return err
	}
	data, cuts := r.encode(sel)
	cmd.DataIn = data[:cutAt(cuts, len(data), r.alloc)]
	return nil
}

// elements returns the changer's elements in address order.
func (d *Device) elements() ([]changer.Element, error) {
	els, err := d.c.Elements()
	if err != nil {
		return nil, senseFor(err)
	}
	slices.SortFunc(els, func(a, b changer.Element) int { return int(a.Address) - int(b.Address) })
	return els, nil
}

// selectElements picks the elements the request reports: of the type,
// from the starting address on, at most count of them. A type the changer
// has none of yields an empty report; a starting address past every
// element of the type is an invalid element address.
func (r resRequest) selectElements(els []changer.Element) ([]changer.Element, error) {
	var sel []changer.Element
	ofType := 0
	for _, e := range els {
		if r.typ != 0 && e.Type != r.typ {
			continue
		}
		ofType++
		if e.Address >= r.start {
			sel = append(sel, e)
		}
	}
	if len(sel) == 0 && ofType > 0 {
		return nil, scsi.InvalidElementAddress(2)
	}
	return sel[:min(len(sel), int(r.count))], nil
}

// descLen is the element descriptor length for an element type.
func (r resRequest) descLen(t changer.ElementType) int {
	n := descBaseLen + identHeaderLen
	if r.voltag {
		n += volTagLen
	}
	if r.dvcid && t == changer.DataTransfer {
		n += dvcidLen
	}
	return n
}

// encode builds the element status data for the selected elements: one
// page per run of elements of one type. cuts lists the offsets where a
// whole descriptor (or page header) ends, for truncation.
func (r resRequest) encode(sel []changer.Element) (data []byte, cuts []int) {
	data = make([]byte, statusHeaderLen)
	if len(sel) > 0 {
		binary.BigEndian.PutUint16(data[0:], sel[0].Address)
	}
	binary.BigEndian.PutUint16(data[2:], uint16(len(sel)))
	cuts = append(cuts, len(data))
	for i := 0; i < len(sel); {
		j := i
		for j < len(sel) && sel[j].Type == sel[i].Type {
			j++
		}
		data, cuts = r.appendPage(data, cuts, sel[i:j])
		i = j
	}
	put24(data[5:8], len(data)-statusHeaderLen)
	return data, cuts
}

// appendPage appends one element status page.
func (r resRequest) appendPage(data []byte, cuts []int, els []changer.Element) ([]byte, []int) {
	t := els[0].Type
	n := r.descLen(t)
	h := make([]byte, pageHeaderLen)
	h[0] = byte(t)
	if r.voltag {
		h[1] = 0x80 // PVOLTAG
	}
	binary.BigEndian.PutUint16(h[2:], uint16(n))
	put24(h[5:8], n*len(els))
	data = append(data, h...)
	cuts = append(cuts, len(data))
	for _, e := range els {
		data = append(data, r.descriptor(e, n)...)
		cuts = append(cuts, len(data))
	}
	return data, cuts
}

// descriptor encodes one element descriptor of length n.
func (r resRequest) descriptor(e changer.Element, n int) []byte {
	b := make([]byte, n)
	binary.BigEndian.PutUint16(b[0:], e.Address)
	b[2] = elementFlags(e)
	if e.Full {
		b[9] = 0x01 // medium type: data medium
		if e.HasSource {
			b[9] |= 0x80 // SVALID
			binary.BigEndian.PutUint16(b[10:], e.Source)
		}
	}
	p := descBaseLen
	if r.voltag {
		putVolTag(b[p:p+volTagLen], e)
		p += volTagLen
	}
	if r.dvcid && e.Type == changer.DataTransfer {
		b[p], b[p+1], b[p+3] = 0x02, 0x00, dvcidLen // ASCII, vendor specific
		putPadded(b[p+identHeaderLen:p+identHeaderLen+dvcidLen], e.Drive)
	}
	return b
}

// elementFlags is byte 2 of a descriptor: FULL, and per type IMPEXP,
// ACCESS, EXENAB and INENAB.
func elementFlags(e changer.Element) byte {
	var f byte
	if e.Full {
		f |= 0x01
	}
	switch e.Type {
	case changer.ImportExport:
		f |= 0x08 | 0x10 | 0x20 // ACCESS, EXENAB, INENAB
		if e.Full && !e.HasSource {
			f |= 0x02 // IMPEXP: placed by the operator
		}
	case changer.Storage, changer.DataTransfer:
		f |= 0x08 // ACCESS
	}
	return f
}

// putVolTag writes the primary volume tag: the barcode space padded to 32
// bytes; all zero when the element is empty or the cartridge unlabelled
// (SMC-3: undefined volume tag information is zero).
func putVolTag(b []byte, e changer.Element) {
	if e.Full && e.Barcode != "" {
		putPadded(b[:32], e.Barcode)
	}
}

// putPadded writes s into b, space padded, truncated to len(b).
func putPadded(b []byte, s string) {
	n := copy(b, s)
	for i := n; i < len(b); i++ {
		b[i] = ' '
	}
}

// put24 writes a 24-bit big-endian value, saturating.
func put24(b []byte, v int) {
	v = min(v, 0xFFFFFF)
	b[0], b[1], b[2] = byte(v>>16), byte(v>>8), byte(v)
}

// cutAt returns how much of the data to transfer for an allocation
// length: all of it if it fits, else up to the last whole descriptor that
// fits (SMC-3), or alloc bytes of the header when not even that fits.
func cutAt(cuts []int, total int, alloc uint32) int {
	if uint64(alloc) >= uint64(total) {
		return total
	}
	best := int(alloc)
	for _, c := range cuts {
		if c <= int(alloc) {
			best = c
		}
	}
	return best
}
