package scsi

import (
	"bytes"
	"context"
	"testing"
)

func TestNexusUnitAttention(t *testing.T) {
	n := NewNexus(NewTable(&Inquiry{Type: MediumChanger}))
	exec := func(cdb ...byte) (*Command, error) {
		cmd := &Command{CDB: cdb}
		return cmd, n.Execute(context.Background(), cmd)
	}
	n.Raise(PowerOnReset())
	n.Raise(PowerOnReset()) // the same condition is queued once
	n.Raise(UnitAttentionSense(0x3F, 0x0E))
	if n.Pending() != 2 {
		t.Fatalf("pending %d, want 2", n.Pending())
	}
	if _, err := exec(0x12, 0, 0, 0, 96, 0); err != nil {
		t.Fatalf("INQUIRY must not report a unit attention: %v", err)
	}
	if _, err := exec(0xA0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0); err != nil {
		t.Fatalf("REPORT LUNS must not report a unit attention: %v", err)
	}
	_, err := exec(0, 0, 0, 0, 0, 0)
	if s, ok := SenseOf(err); !ok || !s.Is(PowerOnReset()) {
		t.Fatalf("TEST UNIT READY: %v, want POWER ON RESET", err)
	}
	cmd, err := exec(0x03, 0, 0, 0, 252, 0)
	if err != nil || !bytes.Equal(cmd.DataIn, UnitAttentionSense(0x3F, 0x0E).Bytes()) {
		t.Fatalf("REQUEST SENSE: % x, %v", cmd.DataIn, err)
	}
	if _, err := exec(0, 0, 0, 0, 0, 0); err != nil {
		t.Fatalf("after both were reported: %v", err)
	}
	for i := range maxPendingUA + 2 {
		n.Raise(UnitAttentionSense(0x2A, byte(i)))
	}
	if n.Pending() != maxPendingUA {
		t.Fatalf("pending %d, want the cap %d", n.Pending(), maxPendingUA)
	}
	cmd, _ = exec(0x03, 1, 0, 0, 4, 0)
	if len(cmd.DataIn) != 4 || cmd.DataIn[0] != 0x72 || cmd.DataIn[3] != 2 {
		t.Fatalf("REQUEST SENSE DESC=1 with allocation 4: % x (oldest kept must be ASCQ 2)", cmd.DataIn)
	}
}
