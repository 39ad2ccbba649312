package target

import (
	"net"
	"testing"
	"time"

	"ferry/internal/iscsi"
)

// rawConn is a bare iSCSI connection for tests that need PDUs the
// initiator package does not send (several connections per session,
// reinstatement, bad sequence numbers).
type rawConn struct {
	t  testing.TB
	nc net.Conn
	r  *iscsi.Reader
	w  *iscsi.Writer
}

func (h *harness) raw() *rawConn {
	h.t.Helper()
	nc, err := net.Dial("tcp", h.addr)
	if err != nil {
		h.t.Fatal(err)
	}
	nc.SetDeadline(time.Now().Add(time.Minute))
	h.t.Cleanup(func() { nc.Close() })
	return &rawConn{t: h.t, nc: nc, r: iscsi.NewReader(nc), w: iscsi.NewWriter(nc)}
}

// login logs in straight to full feature phase.
func (c *rawConn) login(isid [6]byte, tsih, cid uint16, cmdSN uint32) iscsi.LoginResp {
	c.t.Helper()
	var h iscsi.BHS
	(&iscsi.LoginReq{Transit: true, CSG: iscsi.StageOperational, NSG: iscsi.StageFullFeature,
		ISID: isid, TSIH: tsih, CID: cid, CmdSN: cmdSN}).Encode(&h)
	c.send(&h, iscsi.AppendText(nil, iscsi.KV{Key: "InitiatorName", Value: "iqn.2026-01.dev.ferry:raw"},
		iscsi.KV{Key: "TargetName", Value: testIQN}, iscsi.KV{Key: "MaxConnections", Value: "4"}))
	p := c.recv()
	return iscsi.DecodeLoginResp(&p.BHS)
}

func (c *rawConn) send(h *iscsi.BHS, data []byte) {
	c.t.Helper()
	c.w.Write(h, data)
	if err := c.w.Flush(); err != nil {
		c.t.Fatal(err)
	}
}

func (c *rawConn) recv() iscsi.PDU {
	c.t.Helper()
	var p iscsi.PDU
	if err := c.r.Read(&p); err != nil {
		c.t.Fatal(err)
	}
	p.Data = append([]byte(nil), p.Data...)
	return p
}

// tur sends TEST UNIT READY to LUN 5 and returns the response.
func (c *rawConn) tur(itt, cmdSN uint32) iscsi.SCSIResponse {
	c.t.Helper()
	var h iscsi.BHS
	(&iscsi.SCSICommand{Final: true, Attr: 1, LUN: [8]byte{0, 5}, ITT: itt, CmdSN: cmdSN}).Encode(&h)
	c.send(&h, nil)
	p := c.recv()
	if p.BHS.Opcode() != iscsi.OpSCSIResponse {
		c.t.Fatalf("got %v", p.BHS.Opcode())
	}
	return iscsi.DecodeSCSIResponse(&p.BHS)
}

// TestTwoConnectionsOneSession adds a second connection to a session and
// checks that CmdSN is counted across both.
func TestTwoConnectionsOneSession(t *testing.T) {
	h := start(t, nil)
	isid := [6]byte{0x80, 0, 0, 0, 0, 1}
	a := h.raw()
	lr := a.login(isid, 0, 1, 10)
	if lr.StatusClass != 0 || lr.TSIH == 0 || lr.ExpCmdSN != 10 {
		t.Fatalf("leading login: %+v", lr)
	}
	b := h.raw()
	lr2 := b.login(isid, lr.TSIH, 2, 10)
	if lr2.StatusClass != 0 || lr2.TSIH != lr.TSIH {
		t.Fatalf("second connection: %+v", lr2)
	}
	if r := a.tur(1, 10); r.ExpCmdSN != 11 || r.Status != 0 {
		t.Errorf("conn A: %+v", r)
	}
	if r := b.tur(2, 11); r.ExpCmdSN != 12 || r.Status != 0 {
		t.Errorf("conn B: %+v", r)
	}
	if r := a.tur(3, 12); r.ExpCmdSN != 13 {
		t.Errorf("conn A again: %+v", r)
	}
	// A stale CmdSN is dropped: the next answer is for the good one.
	var hd iscsi.BHS
	(&iscsi.SCSICommand{Final: true, Attr: 1, LUN: [8]byte{0, 5}, ITT: 4, CmdSN: 5}).Encode(&hd)
	b.send(&hd, nil)
	if r := b.tur(5, 13); r.ITT != 5 || r.ExpCmdSN != 14 {
		t.Errorf("after a stale CmdSN: %+v", r)
	}
	// A TSIH nobody has is refused.
	c := h.raw()
	if lr := c.login(isid, 0x7777, 3, 14); lr.StatusClass != iscsi.LoginInitiatorErr || lr.StatusDetail != 0x0A {
		t.Errorf("unknown TSIH: %+v", lr)
	}
}

// TestSessionReinstatement logs in again with the same ISID: the old
// session's connection is closed.
func TestSessionReinstatement(t *testing.T) {
	h := start(t, nil)
	isid := [6]byte{0x80, 0, 0, 0, 0, 2}
	a := h.raw()
	if lr := a.login(isid, 0, 1, 1); lr.StatusClass != 0 {
		t.Fatalf("login: %+v", lr)
	}
	b := h.raw()
	if lr := b.login(isid, 0, 1, 1); lr.StatusClass != 0 {
		t.Fatalf("second login: %+v", lr)
	}
	var p iscsi.PDU
	if err := a.r.Read(&p); err == nil {
		t.Errorf("old connection still open: got %v", p.BHS.Opcode())
	}
	if r := b.tur(1, 1); r.Status != 0 {
		t.Errorf("new session: %+v", r)
	}
}
