package sbc

import (
	"context"
	"encoding/binary"

	"ferry/internal/scsi"
)

// Mode pages of a disk.
const (
	pageErrorRecovery = 0x01
	pageCaching       = 0x08
	pageControl       = 0x0A
	pageInfoExc       = 0x1C
	pageAll           = 0x3F
)

// Page control values of MODE SENSE.
const (
	pcCurrent    = 0
	pcChangeable = 1
	pcDefault    = 2
	pcSaved      = 3
)

// modePage returns a page's values for a page control (current, default
// or the changeable mask).
func (d *Device) modePage(code byte, pc int) ([]byte, bool) {
	var b []byte
	switch code {
	case pageErrorRecovery:
		b = []byte{pageErrorRecovery, 0x0A, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0} // AWRE
	case pageCaching:
		b = make([]byte, 20)
		b[0], b[1], b[2] = pageCaching, 0x12, 0x04 // WCE: the page cache holds writes until SYNCHRONIZE CACHE
	case pageControl:
		b = []byte{pageControl, 0x0A, 0, 0x10, 0, 0, 0, 0, 0xFF, 0xFF, 0, 0} // QAM 1, QERR 0, busy timeout unlimited
		if pc == pcCurrent && d.swp.Load() {
			b[4] |= 0x08
		}
	case pageInfoExc:
		b = []byte{pageInfoExc, 0x0A, 0x08, 0, 0, 0, 0, 0, 0, 0, 0, 0} // DEXCPT: no exceptions reported
	default:
		return nil, false
	}
	if pc == pcChangeable {
		mask := make([]byte, len(b))
		mask[0], mask[1] = b[0], b[1]
		if code == pageControl {
			mask[4] = 0x08 // SWP is the one changeable bit
		}
		return mask, true
	}
	return b, true
}

// modeSense6 serves MODE SENSE(6).
func (d *Device) modeSense6(_ context.Context, cmd *scsi.Command) error {
	pages, err := d.modePages(cmd.CDB)
	if err != nil {
		return err
	}
	desc := d.blockDescriptor(cmd.CDB[1]&0x08 != 0, false)
	b := append([]byte{0, 0, d.deviceSpecific(), byte(len(desc))}, desc...)
	b = append(b, pages...)
	b[0] = byte(min(len(b)-1, 0xFF))
	cmd.DataIn = b
	return nil
}

// modeSense10 serves MODE SENSE(10), with a long LBA block descriptor
// when LLBAA asks for it.
func (d *Device) modeSense10(_ context.Context, cmd *scsi.Command) error {
	pages, err := d.modePages(cmd.CDB)
	if err != nil {
		return err
	}
	long := cmd.CDB[1]&0x10 != 0
	desc := d.blockDescriptor(cmd.CDB[1]&0x08 != 0, long)
	b := make([]byte, 8, 8+len(desc)+len(pages))
	b[3] = d.deviceSpecific()
	if long && len(desc) > 0 {
		b[4] = 0x01
	}
	binary.BigEndian.PutUint16(b[6:], uint16(len(desc)))
	b = append(append(b, desc...), pages...)
	binary.BigEndian.PutUint16(b, uint16(len(b)-2))
	cmd.DataIn = b
	return nil
}

// deviceSpecific is the header's device-specific parameter: WP when
// write protected (SWP, or a read-only backend), DPOFUA always.
func (d *Device) deviceSpecific() byte {
	if d.protected() {
		return 0x80 | 0x10
	}
	return 0x10
}

// blockDescriptor is the mode parameter block descriptor: none with DBD,
// else short (8 bytes) or long (16 bytes).
func (d *Device) blockDescriptor(dbd, long bool) []byte {
	if dbd {
		return nil
	}
	if long {
		b := make([]byte, 16)
		binary.BigEndian.PutUint64(b, d.blocks)
		binary.BigEndian.PutUint32(b[12:], uint32(d.bs))
		return b
	}
	b := make([]byte, 8)
	binary.BigEndian.PutUint32(b, uint32(min(d.blocks, 0xFFFFFF)))
	b[0] = 0 // density code
	binary.BigEndian.PutUint32(b[4:], uint32(d.bs))
	return b
}

// modePages returns the pages a MODE SENSE CDB asks for: one page or
// all, no subpages (0xFF with page 0x3F means all subpages too, of which
// there are none).
func (d *Device) modePages(cdb []byte) ([]byte, error) {
	pc, code, sub := int(cdb[2]>>6), cdb[2]&0x3F, cdb[3]
	if pc == pcSaved {
		return nil, scsi.SavingParametersNotSupported()
	}
	if sub != 0 && !(sub == 0xFF && code == pageAll) {
		return nil, scsi.InvalidFieldInCDB(3, -1)
	}
	if code != pageAll {
		p, ok := d.modePage(code, pc)
		if !ok {
			return nil, scsi.InvalidFieldInCDB(2, 5)
		}
		return p, nil
	}
	var out []byte
	for _, c := range []byte{pageErrorRecovery, pageCaching, pageControl, pageInfoExc} {
		p, _ := d.modePage(c, pc)
		out = append(out, p...)
	}
	return out, nil
}

// modeSelect6 serves MODE SELECT(6).
func (d *Device) modeSelect6(_ context.Context, cmd *scsi.Command) error {
	return d.modeSelect(cmd, int(cmd.CDB[4]), 4)
}

// modeSelect10 serves MODE SELECT(10).
func (d *Device) modeSelect10(_ context.Context, cmd *scsi.Command) error {
	return d.modeSelect(cmd, int(binary.BigEndian.Uint16(cmd.CDB[7:])), 8)
}

// modeSelect checks a mode parameter list (header of hdr bytes, at most
// one block descriptor, then pages) and applies it: only SWP may change,
// and a block descriptor must name the disk's block size.
func (d *Device) modeSelect(cmd *scsi.Command, n, hdr int) error {
	if cmd.CDB[1]&0x01 != 0 {
		return scsi.InvalidFieldInCDB(1, 0) // SP: nothing is saved
	}
	if n == 0 {
		return nil
	}
	p, err := scsi.ParameterList(cmd, n)
	if err != nil {
		return err
	}
	if n < hdr {
		return scsi.ParameterListLengthError()
	}
	bdl := int(p[3])
	if hdr == 8 {
		bdl = int(binary.BigEndian.Uint16(p[6:]))
	}
	if hdr+bdl > n {
		return scsi.ParameterListLengthError()
	}
	long := hdr == 8 && p[4]&0x01 != 0
	if err := d.checkDescriptors(p[hdr:hdr+bdl], hdr, long); err != nil {
		return err
	}
	return d.selectPages(p[hdr+bdl:], hdr+bdl)
}

// checkDescriptors accepts block descriptors that keep the block size.
func (d *Device) checkDescriptors(b []byte, at int, long bool) error {
	size := 8
	if long {
		size = 16
	}
	for i := 0; i+size <= len(b); i += size {
		if bl := binary.BigEndian.Uint32(b[i+size-4:]) & 0xFFFFFF; bl != 0 && bl != uint32(d.bs) {
			return scsi.InvalidFieldInParameterList(at+i+size-3, -1)
		}
	}
	return nil
}

// selectPages checks each page against the current values and the
// changeable mask, then applies the control page's SWP.
func (d *Device) selectPages(b []byte, at int) error {
	swp := d.swp.Load()
	for i := 0; i < len(b); {
		if len(b)-i < 2 {
			return scsi.ParameterListLengthError()
		}
		code, plen := b[i]&0x3F, int(b[i+1])
		if b[i]&0x40 != 0 { // SPF: no subpages here
			return scsi.InvalidFieldInParameterList(at+i, 6)
		}
		cur, ok := d.modePage(code, pcCurrent)
		if !ok {
			return scsi.InvalidFieldInParameterList(at+i, 5)
		}
		if plen != len(cur)-2 || i+2+plen > len(b) {
			return scsi.InvalidFieldInParameterList(at+i+1, -1)
		}
		mask, _ := d.modePage(code, pcChangeable)
		for j := 2; j < len(cur); j++ {
			if (b[i+j]^cur[j])&^mask[j] != 0 {
				return scsi.InvalidFieldInParameterList(at+i+j, -1)
			}
		}
		if code == pageControl {
			swp = b[i+4]&0x08 != 0
		}
		i += 2 + plen
	}
	d.swp.Store(swp)
	return nil
}
