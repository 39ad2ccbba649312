package target

import (
	"testing"
	"time"

	"ferry/internal/iscsi"
	"ferry/internal/iscsi/initiator"
)

// TestNOPInKeepalive: a silent connection gets a NOP-In ping, then is
// dropped when it does not answer; an initiator that answers stays.
func TestNOPInKeepalive(t *testing.T) {
	h := start(t, func(c *Config) { c.NOPInterval = time.Second })
	s := h.dial(initiator.Config{})
	c := h.raw()
	if lr := c.login([6]byte{0x80, 0, 0, 0, 0, 4}, 0, 1, 1); lr.StatusClass != 0 {
		t.Fatalf("login: %+v", lr)
	}
	p := c.recv()
	n := iscsi.DecodeNOPIn(&p.BHS)
	if p.BHS.Opcode() != iscsi.OpNOPIn || n.ITT != 0xFFFFFFFF || n.TTT == 0xFFFFFFFF {
		t.Fatalf("want a NOP-In ping, got %v %+v", p.BHS.Opcode(), n)
	}
	var q iscsi.PDU
	if err := c.r.Read(&q); err == nil {
		t.Fatalf("silent connection not dropped: got %v", q.BHS.Opcode())
	}
	time.Sleep(3 * time.Second) // several intervals: the initiator answers pings
	if err := s.Ping(testCtx(t), []byte("alive")); err != nil {
		t.Errorf("answering initiator dropped: %v", err)
	}
}
