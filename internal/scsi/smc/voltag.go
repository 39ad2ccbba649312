package smc

import (
	"context"
	"encoding/binary"
	"path"
	"strings"
	"sync"

	"ferry/internal/changer"
	"ferry/internal/scsi"
)

// Volume tag operation codes (SMC-3 6.12, 6.13).
const (
	OpRequestVolumeElementAddress byte = 0xB5
	OpSendVolumeTag               byte = 0xB6
)

// Send action codes ferry supports: the translate (search) actions. The
// assert, replace and undefine actions would rewrite barcodes, which name
// cartridge files here, so they are refused.
const (
	actionTranslateAll     = 0x05
	actionTranslatePrimary = 0x06
)

// volumeTags is the template of the last SEND VOLUME TAG translate, which
// REQUEST VOLUME ELEMENT ADDRESS reports the matches of.
type volumeTags struct {
	mu       sync.Mutex
	set      bool
	action   byte
	typ      changer.ElementType
	start    uint16
	template string
}

// registerVolumeTags adds SEND VOLUME TAG and REQUEST VOLUME ELEMENT
// ADDRESS, sharing one template.
func (d *Device) registerVolumeTags() {
	vt := &volumeTags{}
	d.table.Register(OpSendVolumeTag, scsi.Op{Name: "SEND VOLUME TAG", Run: vt.send})
	d.table.Register(OpRequestVolumeElementAddress, scsi.Op{Name: "REQUEST VOLUME ELEMENT ADDRESS", Alloc: allocRES,
		Run: func(_ context.Context, cmd *scsi.Command) error { return vt.request(d, cmd) }})
}

// send serves SEND VOLUME TAG (SMC-3 6.13): element type (byte 1),
// starting address (2-3), send action code (5), parameter list length
// (8-9) and a 40-byte parameter list whose first 32 bytes are the volume
// identification template ('*' and '?' are wildcards).
func (vt *volumeTags) send(_ context.Context, cmd *scsi.Command) error {
	cdb := cmd.CDB
	typ := changer.ElementType(cdb[1] & 0x0F)
	action := cdb[5] & 0x1F
	switch {
	case typ > changer.DataTransfer:
		return scsi.InvalidFieldInCDB(1, 3)
	case action != actionTranslateAll && action != actionTranslatePrimary:
		return scsi.InvalidFieldInCDB(5, 4)
	}
	n := int(binary.BigEndian.Uint16(cdb[8:10]))
	if n != 40 {
		return scsi.InvalidFieldInCDB(8, -1)
	}
	data, err := scsi.ParameterList(cmd, n)
	if err != nil {
		return err
	}
	template := strings.TrimRight(string(data[:32]), " \x00")
	if _, err := path.Match(template, ""); err != nil {
		return scsi.InvalidFieldInParameterList(0, -1)
	}
	vt.mu.Lock()
	defer vt.mu.Unlock()
	vt.set, vt.action, vt.typ, vt.start, vt.template = true, action, typ, addrAt(cdb, 2), template
	return nil
}

// request serves REQUEST VOLUME ELEMENT ADDRESS (SMC-3 6.12): the
// elements from the CDB's starting address whose primary volume tag
// matches the template, as element status pages after an 8-byte header
// that carries the send action code. Without a translate first it is a
// COMMAND SEQUENCE ERROR.
func (vt *volumeTags) request(d *Device, cmd *scsi.Command) error {
	vt.mu.Lock()
	set, action, template := vt.set, vt.action, vt.template
	vt.mu.Unlock()
	if !set {
		return &scsi.Sense{Key: scsi.IllegalRequest, ASC: 0x2C, ASCQ: 0x00}
	}
	r, err := parseRES(cmd.CDB)
	if err != nil {
		return err
	}
	r.dvcid = false
	els, err := d.elements()
	if err != nil {
		return err
	}
	sel, err := r.selectElements(els)
	if err != nil {
		return err
	}
	var match []changer.Element
	for _, e := range sel {
		if ok, _ := path.Match(template, e.Barcode); ok && e.Full && e.Barcode != "" {
			match = append(match, e)
		}
	}
	data, cuts := r.encode(match)
	data[4] = action
	cmd.DataIn = data[:cutAt(cuts, len(data), r.alloc)]
	return nil
}
