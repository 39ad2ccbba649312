package smc

import (
	"encoding/binary"
	"testing"

	"ferry/internal/scsi"
	"ferry/internal/scsi/scsitest"
)

// sendVolumeTag builds SEND VOLUME TAG with a template.
func sendVolumeTag(action byte, template string) ([]byte, []byte) {
	data := make([]byte, 40)
	copy(data, template)
	for i := len(template); i < 32; i++ {
		data[i] = ' '
	}
	return []byte{OpSendVolumeTag, 0, 0, 0, 0, action, 0, 0, 0, 40, 0, 0}, data
}

var rvea = []byte{OpRequestVolumeElementAddress, 0x10, 0, 0, 0xFF, 0xFF, 0, 0, 0x10, 0, 0, 0}

func TestRequestVolumeElementAddress(t *testing.T) {
	dev, _ := newDevice(t)
	_, err := scsitest.Exec(dev, rvea, nil)
	scsitest.WantSense(t, err, scsi.IllegalRequest, 0x2C, 0x00) // no template yet

	for _, c := range []struct {
		template string
		want     []uint16
	}{
		{"A00002", []uint16{0x1001}},
		{"A0000?", []uint16{0x1000, 0x1001}},
		{"*", []uint16{0x1000, 0x1001}}, // the unlabelled cartridge has no tag to match
		{"B*", nil},
	} {
		cdb, data := sendVolumeTag(0x05, c.template)
		scsitest.MustExec(t, dev, cdb, data)
		b := scsitest.MustExec(t, dev, rvea, nil)
		if b[4] != 0x05 || int(binary.BigEndian.Uint16(b[2:])) != len(c.want) {
			t.Fatalf("%q: header % x, want action 5 and %d elements", c.template, b[:8], len(c.want))
		}
		for i, addr := range c.want {
			if got := binary.BigEndian.Uint16(b[16+i*52:]); got != addr {
				t.Fatalf("%q: element %d at %#x, want %#x", c.template, i, got, addr)
			}
		}
	}
}

func TestSendVolumeTagRefused(t *testing.T) {
	dev, _ := newDevice(t)
	cdb, data := sendVolumeTag(0x08, "A00001") // assert: would rename a cartridge
	_, err := scsitest.Exec(dev, cdb, data)
	scsitest.WantField(t, scsitest.WantSense(t, err, scsi.IllegalRequest, 0x24, 0), true, 5, 4)
	cdb, data = sendVolumeTag(0x05, "[")
	_, err = scsitest.Exec(dev, cdb, data)
	scsitest.WantSense(t, err, scsi.IllegalRequest, 0x26, 0)
	cdb, _ = sendVolumeTag(0x05, "A*")
	_, err = scsitest.Exec(dev, cdb, make([]byte, 10))
	scsitest.WantSense(t, err, scsi.IllegalRequest, 0x1A, 0)
}
