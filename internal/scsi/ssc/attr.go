package ssc

import (
	"context"
	"encoding/binary"
	"slices"

	"ferry/internal/scsi"
	"ferry/internal/tape"
)

// READ ATTRIBUTE service actions (SPC-4 6.16).
const (
	raValues      = 0x00
	raList        = 0x01
	raVolumeList  = 0x02
	raPartitions  = 0x03
	raSupportedID = 0x05
)

// Attribute formats (SPC-4 table 262).
const (
	fmtBinary = 0x00
	fmtASCII  = 0x01
)

// attribute is one MAM attribute; every one ferry reports is read-only.
type attribute struct {
	id     uint16
	format byte
	value  []byte
}

// attributeIDs are the attributes every cartridge has, ascending.
var attributeIDs = []uint16{0x0000, 0x0001, 0x0400, 0x0401, 0x0405, 0x0406, 0x0408, 0x0806}

// registerAttributes adds READ ATTRIBUTE's service actions.
func (d *Device) registerAttributes() {
	for _, sa := range []uint16{raValues, raList, raVolumeList, raPartitions, raSupportedID} {
		d.table.RegisterServiceAction(OpReadAttribute, sa, scsi.Op{Name: "READ ATTRIBUTE", Alloc: scsi.Field{Offset: 10, Size: 4}, Run: d.readAttribute})
	}
}

// readAttribute serves READ ATTRIBUTE from the cartridge's metadata:
// one volume, one partition, the attributes in attributeIDs.
func (d *Device) readAttribute(_ context.Context, cmd *scsi.Command) error {
	cdb := cmd.CDB
	switch {
	case cdb[5] != 0:
		return scsi.InvalidFieldInCDB(5, -1)
	case cdb[7] != 0:
		return scsi.InvalidFieldInCDB(7, -1)
	}
	meta, err := d.meta()
	if err != nil {
		return err
	}
	first := binary.BigEndian.Uint16(cdb[8:10])
	switch cdb[1] & 0x1F {
	case raVolumeList, raPartitions:
		cmd.DataIn = []byte{0, 2, 0, 1} // first 0, one of them
	case raList, raSupportedID:
		b := make([]byte, 4)
		for _, id := range attributeIDs {
			if id >= first {
				b = binary.BigEndian.AppendUint16(b, id)
			}
		}
		binary.BigEndian.PutUint32(b, uint32(len(b)-4))
		cmd.DataIn = b
	default:
		cmd.DataIn = d.attributeValues(meta, first)
	}
	return nil
}

// attributeValues encodes the attributes from first on.
func (d *Device) attributeValues(meta tape.Meta, first uint16) []byte {
	b := make([]byte, 4)
	for _, a := range d.attributes(meta) {
		if a.id < first {
			continue
		}
		b = binary.BigEndian.AppendUint16(b, a.id)
		b = append(b, 0x80|a.format) // READ ONLY
		b = binary.BigEndian.AppendUint16(b, uint16(len(a.value)))
		b = append(b, a.value...)
	}
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	return b
}

// attributes are the cartridge's MAM attributes (SPC-4 7.4.2).
func (d *Device) attributes(meta tape.Meta) []attribute {
	remaining := d.remaining(meta.Capacity)
	return []attribute{
		{0x0000, fmtBinary, be64(uint64(remaining) >> 20)},                   // REMAINING CAPACITY IN PARTITION (MiB)
		{0x0001, fmtBinary, be64(uint64(meta.Capacity) >> 20)},               // MAXIMUM CAPACITY IN PARTITION (MiB)
		{0x0400, fmtASCII, padded("FERRY", 8)},                               // MEDIUM MANUFACTURER
		{0x0401, fmtASCII, padded(meta.Barcode, 32)},                         // MEDIUM SERIAL NUMBER
		{0x0405, fmtBinary, []byte{DensityCode}},                             // MEDIUM DENSITY CODE
		{0x0406, fmtASCII, padded(meta.Created.UTC().Format("20060102"), 8)}, // MEDIUM MANUFACTURE DATE
		{0x0408, fmtBinary, []byte{0}},                                       // MEDIUM TYPE: data
		{0x0806, fmtASCII, padded(meta.Barcode, 32)},                         // BARCODE
	}
}

// remaining returns the bytes that can be written after end of data. It
// reads the cartridge through a read-only open, which takes no lock and
// leaves the position alone.
func (d *Device) remaining(capacity int64) int64 {
	barcode, err := d.ready()
	if err != nil {
		return 0
	}
	m, err := d.lib.OpenCartridge(barcode)
	if err != nil {
		return capacity
	}
	defer m.Close()
	if err := m.SpaceToEndOfData(); err != nil {
		return capacity
	}
	return m.Remaining()
}

// padded returns s space-padded (or cut) to n bytes.
func padded(s string, n int) []byte {
	b := slices.Repeat([]byte{' '}, n)
	copy(b, s)
	return b
}
