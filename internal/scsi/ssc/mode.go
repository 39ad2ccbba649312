package ssc

import (
	"context"
	"encoding/binary"

	"ferry/internal/scsi"
)

// modeState is what MODE SELECT may change.
type modeState struct {
	blockSize uint32 // 0: variable-block mode
	buffered  bool   // buffered mode 1: WRITE completes before data is durable
}

// defaultMode is variable blocks, buffered.
func defaultMode() modeState { return modeState{buffered: true} }

// Mode pages of a tape drive (SSC-3 8.3).
const (
	pageCompression = 0x0F
	pageDeviceConf  = 0x10
	pagePartition   = 0x11
	pageAll         = 0x3F
)

// pageCodes are the pages MODE SENSE reports for page 0x3F, in order.
var pageCodes = []byte{pageCompression, pageDeviceConf, pagePartition}

// modePage returns a page's current, changeable (pc 1) or default (pc 2)
// values; no parameter of any page can change.
func modePage(code, pc byte) ([]byte, bool) {
	var p []byte
	switch code {
	case pageCompression:
		// DCE 0, DCC 0 (no compression), DDE 1, RED 0; algorithms 0.
		p = []byte{pageCompression, 0x0E, 0x00, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	case pageDeviceConf:
		p = make([]byte, 16)
		p[0], p[1] = pageDeviceConf, 0x0E
		p[8] = 0x40  // LOIS: logical object identifiers are supported
		p[10] = 0x18 // EEG (early warning generated), SEW (synchronize at early warning)
	case pagePartition:
		// One partition; formats and partitions are recognized (0x03).
		p = []byte{pagePartition, 0x06, 0, 0, 0x00, 0x03, 0, 0}
	default:
		return nil, false
	}
	if pc == 1 {
		clear(p[2:])
	}
	return p, true
}

// modeSense6 serves MODE SENSE(6) (SPC-4 6.11).
func (d *Device) modeSense6(_ context.Context, cmd *scsi.Command) error {
	pages, bd, err := d.modeData(cmd.CDB)
	if err != nil {
		return err
	}
	b := []byte{0, 0, d.deviceSpecific(), byte(len(bd))}
	b = append(append(b, bd...), pages...)
	b[0] = byte(min(len(b)-1, 255))
	cmd.DataIn = b
	return nil
}

// modeSense10 serves MODE SENSE(10) (SPC-4 6.12); LLBAA is ignored, a
// tape's block descriptor is always the short one.
func (d *Device) modeSense10(_ context.Context, cmd *scsi.Command) error {
	pages, bd, err := d.modeData(cmd.CDB)
	if err != nil {
		return err
	}
	b := []byte{0, 0, 0, d.deviceSpecific(), 0, 0, 0, byte(len(bd))}
	b = append(append(b, bd...), pages...)
	binary.BigEndian.PutUint16(b, uint16(len(b)-2))
	cmd.DataIn = b
	return nil
}

// deviceSpecific is the header's device-specific parameter: WP and the
// buffered mode (SSC-3 8.3.2).
func (d *Device) deviceSpecific() byte {
	var b byte
	if d.writeProtected() {
		b |= 0x80
	}
	if d.mode.buffered {
		b |= 0x10
	}
	return b
}

// modeData returns the pages and block descriptor a MODE SENSE CDB asks for.
func (d *Device) modeData(cdb []byte) (pages, bd []byte, err error) {
	pc, code := cdb[2]>>6, cdb[2]&0x3F
	switch {
	case pc == 3:
		return nil, nil, scsi.SavingParametersNotSupported()
	case cdb[3] != 0 && !(code == pageAll && cdb[3] == 0xFF):
		return nil, nil, scsi.InvalidFieldInCDB(3, -1)
	}
	if code == pageAll {
		for _, c := range pageCodes {
			p, _ := modePage(c, pc)
			pages = append(pages, p...)
		}
	} else if pages, _ = modePage(code, pc); pages == nil {
		return nil, nil, scsi.InvalidFieldInCDB(2, 5)
	}
	if cdb[1]&0x08 == 0 { // DBD clear
		bd = d.blockDescriptor(pc)
	}
	return pages, bd, nil
}

// blockDescriptor is the 8-byte block descriptor: density code and block
// length; only the block length is changeable.
func (d *Device) blockDescriptor(pc byte) []byte {
	b := make([]byte, 8)
	switch pc {
	case 1:
		b[5], b[6], b[7] = 0xFF, 0xFF, 0xFF
	case 2:
	default:
		if _, err := d.ready(); err == nil {
			b[0] = DensityCode
		}
		b[5], b[6], b[7] = byte(d.mode.blockSize>>16), byte(d.mode.blockSize>>8), byte(d.mode.blockSize)
	}
	return b
}

// modeSelect6 serves MODE SELECT(6): parameter list length in byte 4.
func (d *Device) modeSelect6(_ context.Context, cmd *scsi.Command) error {
	return d.modeSelect(cmd, int(cmd.CDB[4]), 4)
}

// modeSelect10 serves MODE SELECT(10): parameter list length in 7-8.
func (d *Device) modeSelect10(_ context.Context, cmd *scsi.Command) error {
	return d.modeSelect(cmd, int(binary.BigEndian.Uint16(cmd.CDB[7:9])), 8)
}

// modeSelect applies the buffered mode and the block descriptor's block
// length; pages must restate their current values (SPC-4 6.9, SSC-3 8.3).
// Nothing changes unless the whole parameter list is valid.
func (d *Device) modeSelect(cmd *scsi.Command, n, hdr int) error {
	switch {
	case cmd.CDB[1]&0x01 != 0:
		return scsi.InvalidFieldInCDB(1, 0) // SP: nothing can be saved
	case n == 0:
		return nil
	}
	data, err := scsi.ParameterList(cmd, n)
	if err != nil {
		return err
	}
	if n < hdr {
		return scsi.ParameterListLengthError()
	}
	next := d.mode
	if err := selectHeader(data, hdr, &next); err != nil {
		return err
	}
	bdl := int(data[hdr-1])
	if hdr == 8 {
		bdl = int(binary.BigEndian.Uint16(data[6:8]))
	}
	p, err := selectBlockDescriptor(data, hdr, bdl, &next)
	if err != nil {
		return err
	}
	for p < n {
		if p, err = checkSelectedPage(data, p); err != nil {
			return err
		}
	}
	d.mode = next
	d.blockLen.Store(next.blockSize)
	return nil
}

// selectHeader reads the device-specific parameter: buffered mode 0 or 1,
// speed 0; WP is ignored as SSC-3 asks.
func selectHeader(data []byte, hdr int, next *modeState) error {
	at := 2
	if hdr == 8 {
		at = 3
	}
	ds := data[at]
	switch {
	case ds&0x0F != 0:
		return scsi.InvalidFieldInParameterList(at, 3)
	case ds>>4&0x07 > 1:
		return scsi.InvalidFieldInParameterList(at, 6)
	}
	next.buffered = ds>>4&0x07 == 1
	return nil
}

// selectBlockDescriptor reads the block descriptor, if any, and returns
// where the pages start.
func selectBlockDescriptor(data []byte, hdr, bdl int, next *modeState) (int, error) {
	switch {
	case bdl == 0:
		return hdr, nil
	case bdl != 8:
		return 0, scsi.InvalidFieldInParameterList(hdr-1, -1)
	case len(data) < hdr+8:
		return 0, scsi.ParameterListLengthError()
	}
	bd := data[hdr : hdr+8]
	if bd[0] != 0 && bd[0] != DensityCode {
		return 0, scsi.InvalidFieldInParameterList(hdr, -1)
	}
	if bd[1] != 0 || bd[2] != 0 || bd[3] != 0 {
		return 0, scsi.InvalidFieldInParameterList(hdr+1, -1)
	}
	next.blockSize = uint32(bd[5])<<16 | uint32(bd[6])<<8 | uint32(bd[7])
	return hdr + 8, nil
}

// checkSelectedPage checks that the page at p restates the current
// values and returns where the next page starts.
func checkSelectedPage(data []byte, p int) (int, error) {
	if len(data)-p < 2 {
		return 0, scsi.ParameterListLengthError()
	}
	cur, ok := modePage(data[p]&0x3F, 0)
	switch {
	case !ok || data[p]&0x40 != 0:
		return 0, scsi.InvalidFieldInParameterList(p, 5)
	case int(data[p+1]) != len(cur)-2:
		return 0, scsi.InvalidFieldInParameterList(p+1, -1)
	case len(data)-p < len(cur):
		return 0, scsi.ParameterListLengthError()
	}
	for i := 2; i < len(cur); i++ {
		if data[p+i] != cur[i] {
			return 0, scsi.InvalidFieldInParameterList(p+i, -1)
		}
	}
	return p + len(cur), nil
}

// readBlockLimits serves READ BLOCK LIMITS (SSC-3 7.5): any block length
// from 1 byte to MaxBlockLen, granularity 0. MLOC is not supported.
func (d *Device) readBlockLimits(_ context.Context, cmd *scsi.Command) error {
	if cmd.CDB[1]&0x01 != 0 {
		return scsi.InvalidFieldInCDB(1, 0)
	}
	b := make([]byte, 6)
	binary.BigEndian.PutUint32(b, MaxBlockLen)
	binary.BigEndian.PutUint16(b[4:], 1)
	cmd.DataIn = b
	return nil
}

// reportDensity serves REPORT DENSITY SUPPORT (SSC-3 6.3): ferry's one
// density, with the loaded cartridge's capacity when MEDIA is set.
// Medium type descriptors (MEDIUM TYPE bit) are not supported.
func (d *Device) reportDensity(_ context.Context, cmd *scsi.Command) error {
	if cmd.CDB[1]&0x02 != 0 {
		return scsi.InvalidFieldInCDB(1, 1)
	}
	capacity := int64(defaultCapacity)
	if cmd.CDB[1]&0x01 != 0 {
		meta, err := d.meta()
		if err != nil {
			return err
		}
		capacity = meta.Capacity
	}
	b := make([]byte, 4+52)
	binary.BigEndian.PutUint16(b, 52+2)
	desc := b[4:]
	desc[0], desc[1] = DensityCode, DensityCode
	desc[2] = 0x80 | 0x20 | 0x01 // WRTOK, DEFLT, DLV
	binary.BigEndian.PutUint16(desc[3:], 52)
	binary.BigEndian.PutUint32(desc[12:], uint32(min(capacity/1e6, 0xFFFFFFFF)))
	copy(desc[16:24], "FERRY   ")
	copy(desc[24:32], "VTAPE   ")
	copy(desc[32:52], "ferry virtual tape  ")
	cmd.DataIn = b
	return nil
}

// defaultCapacity is the capacity REPORT DENSITY SUPPORT reports without
// MEDIA: the library's default cartridge (100 GiB).
const defaultCapacity = 100 << 30
