package smc

import (
	"context"
	"encoding/binary"

	"ferry/internal/changer"
	"ferry/internal/scsi"
)

// addrAt reads the element address at cdb[i:i+2].
func addrAt(cdb []byte, i int) uint16 { return binary.BigEndian.Uint16(cdb[i : i+2]) }

// checkAddresses refuses a transport address that is neither 0 (the
// default transport) nor a transport element, and any other address at
// the given CDB offsets that names no element, pointing at the field.
func (d *Device) checkAddresses(cdb []byte, transport int, others ...int) error {
	els, err := d.elements()
	if err != nil {
		return err
	}
	types := make(map[uint16]changer.ElementType, len(els))
	for _, e := range els {
		types[e.Address] = e.Type
	}
	if a := addrAt(cdb, transport); a != 0 && types[a] != changer.Transport {
		return scsi.InvalidElementAddress(transport)
	}
	for _, i := range others {
		if _, ok := types[addrAt(cdb, i)]; !ok {
			return scsi.InvalidElementAddress(i)
		}
	}
	return nil
}

// moveMedium serves MOVE MEDIUM (0xA5): transport 2-3, source 4-5,
// destination 6-7, INVERT byte 10 bit 0 (not supported: no medium has two
// sides here).
func (d *Device) moveMedium(_ context.Context, cmd *scsi.Command) error {
	cdb := cmd.CDB
	if cdb[10]&0x01 != 0 {
		return scsi.InvalidFieldInCDB(10, 0)
	}
	if err := d.checkAddresses(cdb, 2, 4, 6); err != nil {
		return err
	}
	return senseFor(d.c.Move(addrAt(cdb, 4), addrAt(cdb, 6)))
}

// exchangeMedium serves EXCHANGE MEDIUM (0xA6): transport 2-3, source
// 4-5, first destination 6-7, second destination 8-9, INV1 and INV2 in
// byte 10 (not supported).
func (d *Device) exchangeMedium(_ context.Context, cmd *scsi.Command) error {
	cdb := cmd.CDB
	switch {
	case cdb[10]&0x01 != 0:
		return scsi.InvalidFieldInCDB(10, 0)
	case cdb[10]&0x02 != 0:
		return scsi.InvalidFieldInCDB(10, 1)
	}
	if err := d.checkAddresses(cdb, 2, 4, 6, 8); err != nil {
		return err
	}
	return senseFor(d.c.Exchange(addrAt(cdb, 4), addrAt(cdb, 6), addrAt(cdb, 8)))
}

// positionToElement serves POSITION TO ELEMENT (0x2B): the virtual robot
// has nowhere to go, so it only checks the addresses and INVERT.
func (d *Device) positionToElement(_ context.Context, cmd *scsi.Command) error {
	if cmd.CDB[8]&0x01 != 0 {
		return scsi.InvalidFieldInCDB(8, 0)
	}
	return d.checkAddresses(cmd.CDB, 2, 4)
}

// initElementStatus serves INITIALIZE ELEMENT STATUS (0x07).
func (d *Device) initElementStatus(context.Context, *scsi.Command) error {
	return senseFor(d.c.InitializeElementStatus())
}

// initElementStatusRange serves INITIALIZE ELEMENT STATUS WITH RANGE
// (0x37): with RANGE set the starting address (2-3) must name an element;
// the library is re-read whole either way.
func (d *Device) initElementStatusRange(_ context.Context, cmd *scsi.Command) error {
	if cmd.CDB[1]&0x01 != 0 {
		if err := d.checkStart(addrAt(cmd.CDB, 2)); err != nil {
			return err
		}
	}
	return senseFor(d.c.InitializeElementStatus())
}

// checkStart refuses a starting address that names no element.
func (d *Device) checkStart(addr uint16) error {
	els, err := d.elements()
	if err != nil {
		return err
	}
	for _, e := range els {
		if e.Address == addr {
			return nil
		}
	}
	return scsi.InvalidElementAddress(2)
}

// preventAllow serves PREVENT ALLOW MEDIUM REMOVAL (0x1E): PREVENT field
// (byte 4 bits 1-0) 00b allows, 01b prevents; 1xb is reserved for a
// changer.
func (d *Device) preventAllow(_ context.Context, cmd *scsi.Command) error {
	switch cmd.CDB[4] & 0x03 {
	case 0:
		return senseFor(d.c.SetPreventRemoval(false))
	case 1:
		return senseFor(d.c.SetPreventRemoval(true))
	}
	return scsi.InvalidFieldInCDB(4, 1)
}
