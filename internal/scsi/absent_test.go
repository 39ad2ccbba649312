package scsi

import (
	"context"
	"testing"
)

func TestAbsentLUN(t *testing.T) {
	dev := AbsentLUN{LUNs: []uint16{0, 1}}
	exec := func(cdb ...byte) (*Command, error) {
		cmd := &Command{CDB: cdb}
		return cmd, dev.Execute(context.Background(), cmd)
	}
	cmd, err := exec(0x12, 0, 0, 0, 36, 0)
	if err != nil || len(cmd.DataIn) != 36 || cmd.DataIn[0] != 0x7F {
		t.Fatalf("INQUIRY: % x, %v", cmd.DataIn, err)
	}
	cmd, err = exec(0x03, 0, 0, 0, 18, 0)
	if s, perr := ParseSense(cmd.DataIn); err != nil || perr != nil || !s.Is(LUNNotSupported()) {
		t.Fatalf("REQUEST SENSE: % x, %v", cmd.DataIn, err)
	}
	cmd, err = exec(0xA0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0)
	if err != nil || len(cmd.DataIn) != 24 {
		t.Fatalf("REPORT LUNS: % x, %v", cmd.DataIn, err)
	}
	for _, cdb := range [][]byte{{0, 0, 0, 0, 0, 0}, {0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0}, {0x12, 1, 0x80, 0, 255, 0}, {0xE7}} {
		_, err := exec(cdb...)
		if s, ok := SenseOf(err); !ok || !s.Is(LUNNotSupported()) {
			t.Errorf("CDB % x: %v, want LOGICAL UNIT NOT SUPPORTED", cdb, err)
		}
	}
}
