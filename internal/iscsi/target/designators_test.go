package target

import (
	"bytes"
	"strings"
	"testing"

	"ferry/internal/iscsi/initiator"
	"ferry/internal/scsi/sbc"
)

// TestPortDesignators checks VPD page 0x83 of a disk LU that got the
// target's designators, through the target, with libiscsi's parser too.
func TestPortDesignators(t *testing.T) {
	h := start(t, nil)
	d := h.addSBCDisk(8, 64<<10)
	dev := sbc.New(d, sbc.Identity{})
	inq := dev.Inquiry()
	inq.Designators = append(inq.Designators, PortDesignators(testIQN)...)
	h.units.Set(8, dev)
	s := h.dial(initiator.Config{})
	r, err := s.Execute(testCtx(t), 8, []byte{0x12, 1, 0x83, 0x04, 0, 0}, nil, 1024)
	if err != nil || r.Status != 0 {
		t.Fatalf("VPD 0x83: %v %+v", err, r)
	}
	for _, want := range [][]byte{
		[]byte(testIQN + ",t,0x0001\x00"),
		{0x51, 0x94, 0, 4, 0, 0, 0, 1}, // iSCSI, PIV, target port, relative target port 1
	} {
		if !bytes.Contains(r.Data, want) {
			t.Errorf("VPD 0x83 lacks %q:\n%x", want, r.Data)
		}
	}
	out, err := h.libiscsi("iscsi-inq", "-e", "1", "-c", "131", "iscsi://"+h.addr+"/"+testIQN+"/8")
	if err != nil || !strings.Contains(out, testIQN) {
		t.Errorf("iscsi-inq VPD 0x83: %v\n%s", err, out)
	}
}
