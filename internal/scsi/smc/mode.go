package smc

import (
	"context"
	"encoding/binary"

	"ferry/internal/changer"
	"ferry/internal/scsi"
)

// Mode pages of a media changer (SMC-3 7.3).
const (
	pageElementAddress    = 0x1D
	pageTransportGeometry = 0x1E
	pageCapabilities      = 0x1F
	pageAll               = 0x3F
)

// modePage returns the current value of one mode page.
func modePage(code byte, els []changer.Element) ([]byte, bool) {
	switch code {
	case pageElementAddress:
		return elementAddressPage(els), true
	case pageTransportGeometry:
		return transportGeometryPage(els), true
	case pageCapabilities:
		return capabilitiesPage(), true
	}
	return nil, false
}

// elementAddressPage is the element address assignment page: first
// address and count of transport, storage, import/export and data
// transfer elements, the page ndmjob reads to find its drives.
func elementAddressPage(els []changer.Element) []byte {
	b := make([]byte, 20)
	b[0], b[1] = pageElementAddress, 18
	for i, t := range []changer.ElementType{changer.Transport, changer.Storage, changer.ImportExport, changer.DataTransfer} {
		first, n := span(els, t)
		binary.BigEndian.PutUint16(b[2+4*i:], first)
		binary.BigEndian.PutUint16(b[4+4*i:], n)
	}
	return b
}

// span returns the lowest address and the number of elements of a type.
func span(els []changer.Element, t changer.ElementType) (first, n uint16) {
	for _, e := range els {
		if e.Type != t {
			continue
		}
		if n == 0 || e.Address < first {
			first = e.Address
		}
		n++
	}
	return first, n
}

// transportGeometryPage describes each transport: no rotation, member i
// of one set.
func transportGeometryPage(els []changer.Element) []byte {
	b := []byte{pageTransportGeometry, 0}
	var member byte
	for _, e := range els {
		if e.Type == changer.Transport {
			b = append(b, 0x00, member)
			member++
		}
	}
	b[1] = byte(len(b) - 2)
	return b
}

// capabilitiesPage is the device capabilities page: every element type
// stores media, and every move and exchange between types is allowed.
func capabilitiesPage() []byte {
	b := make([]byte, 20)
	b[0], b[1] = pageCapabilities, 18
	b[2] = 0x0F // STORDT, STORI/E, STORST, STORMT
	for i := 4; i < 8; i++ {
		b[i] = 0x0F // MT, ST, I/E, DT -> any type
	}
	for i := 12; i < 16; i++ {
		b[i] = 0x0F // exchanges from each type with any type
	}
	return b
}

// modeSense6 serves MODE SENSE(6).
func (d *Device) modeSense6(_ context.Context, cmd *scsi.Command) error {
	pages, err := d.modePages(cmd.CDB)
	if err != nil {
		return err
	}
	b := append(make([]byte, 4), pages...)
	b[0] = byte(min(len(b)-1, 0xFF)) // no block descriptors on a changer
	cmd.DataIn = b
	return nil
}

// modeSense10 serves MODE SENSE(10).
func (d *Device) modeSense10(_ context.Context, cmd *scsi.Command) error {
	pages, err := d.modePages(cmd.CDB)
	if err != nil {
		return err
	}
	b := append(make([]byte, 8), pages...)
	binary.BigEndian.PutUint16(b, uint16(len(b)-2))
	cmd.DataIn = b
	return nil
}

// modePages returns the pages a MODE SENSE CDB asks for (PC and page code
// in byte 2, subpage in byte 3, the same in both CDB sizes).
func (d *Device) modePages(cdb []byte) ([]byte, error) {
	pc, code, sub := cdb[2]>>6, cdb[2]&0x3F, cdb[3]
	switch {
	case pc == 3:
		s := scsi.SavingParametersNotSupported()
		s.Field = scsi.InvalidFieldInCDB(2, 7).Field
		return nil, s
	case sub != 0 && !(code == pageAll && sub == 0xFF):
		return nil, scsi.InvalidFieldInCDB(3, 7)
	}
	els, err := d.elements()
	if err != nil {
		return nil, err
	}
	codes := []byte{code}
	if code == pageAll {
		codes = []byte{pageElementAddress, pageTransportGeometry, pageCapabilities}
	}
	var out []byte
	for _, c := range codes {
		p, ok := modePage(c, els)
		if !ok {
			return nil, scsi.InvalidFieldInCDB(2, 5)
		}
		if pc == 1 { // changeable values: none
			clear(p[2:])
		}
		out = append(out, p...)
	}
	return out, nil
}

// modeSelect6 serves MODE SELECT(6): parameter list length in byte 4.
func (d *Device) modeSelect6(_ context.Context, cmd *scsi.Command) error {
	return d.modeSelect(cmd, int(cmd.CDB[4]), 4)
}

// modeSelect10 serves MODE SELECT(10): parameter list length in 7-8.
func (d *Device) modeSelect10(_ context.Context, cmd *scsi.Command) error {
	return d.modeSelect(cmd, int(binary.BigEndian.Uint16(cmd.CDB[7:9])), 8)
}

// modeSelect accepts pages that restate the current values: no parameter
// of a virtual changer can change, so any difference is an invalid field
// in the parameter list. Saving (SP) is not supported; PF must be set.
func (d *Device) modeSelect(cmd *scsi.Command, n, hdr int) error {
	switch {
	case cmd.CDB[1]&0x01 != 0:
		return scsi.InvalidFieldInCDB(1, 0)
	case n == 0:
		return nil
	case cmd.CDB[1]&0x10 == 0:
		return scsi.InvalidFieldInCDB(1, 4)
	}
	data, err := scsi.ParameterList(cmd, n)
	if err != nil {
		return err
	}
	if n < hdr {
		return scsi.ParameterListLengthError()
	}
	if bdl, at := blockDescriptorLength(data, hdr); bdl != 0 {
		return scsi.InvalidFieldInParameterList(at, -1)
	}
	els, err := d.elements()
	if err != nil {
		return err
	}
	for p := hdr; p < n; {
		next, err := checkSelectedPage(data, p, els)
		if err != nil {
			return err
		}
		p = next
	}
	return nil
}

// blockDescriptorLength reads the header's block descriptor length and
// returns where it is.
func blockDescriptorLength(data []byte, hdr int) (n, at int) {
	if hdr == 4 {
		return int(data[3]), 3
	}
	return int(binary.BigEndian.Uint16(data[6:8])), 6
}

// checkSelectedPage checks the page at data[p:] against the current one
// and returns where the next page starts.
func checkSelectedPage(data []byte, p int, els []changer.Element) (int, error) {
	if p+2 > len(data) {
		return 0, scsi.ParameterListLengthError()
	}
	if data[p]&0x40 != 0 { // SPF: no subpages here
		return 0, scsi.InvalidFieldInParameterList(p, 6)
	}
	cur, ok := modePage(data[p]&0x3F, els)
	if !ok {
		return 0, scsi.InvalidFieldInParameterList(p, 5)
	}
	end := p + 2 + int(data[p+1])
	switch {
	case end > len(data):
		return 0, scsi.ParameterListLengthError()
	case data[p+1] != cur[1]:
		return 0, scsi.InvalidFieldInParameterList(p+1, -1)
	}
	for i := 2; i < len(cur); i++ {
		if data[p+i] != cur[i] {
			return 0, scsi.InvalidFieldInParameterList(p+i, -1)
		}
	}
	return end, nil
}
