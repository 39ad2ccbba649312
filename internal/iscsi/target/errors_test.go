package target

import (
	"bytes"
	"testing"

	"ferry/internal/iscsi"
	"ferry/internal/iscsi/initiator"
	"ferry/internal/scsi"
)

// TestBadDataDigest sends a write whose immediate data fails its digest:
// the target answers Reject (data digest error) and ends the connection,
// and another session is untouched.
func TestBadDataDigest(t *testing.T) {
	h := start(t, nil)
	other := h.dial(initiator.Config{})
	c := h.raw()
	var hd iscsi.BHS
	(&iscsi.LoginReq{Transit: true, CSG: iscsi.StageOperational, NSG: iscsi.StageFullFeature,
		ISID: [6]byte{0x80, 0, 0, 0, 0, 3}, CmdSN: 1}).Encode(&hd)
	c.send(&hd, iscsi.AppendText(nil, iscsi.KV{Key: "InitiatorName", Value: "iqn.2026-01.dev.ferry:raw"},
		iscsi.KV{Key: "TargetName", Value: testIQN}, iscsi.KV{Key: "DataDigest", Value: "CRC32C"}))
	lp := c.recv()
	if lr := iscsi.DecodeLoginResp(&lp.BHS); lr.StatusClass != 0 {
		t.Fatalf("login: %+v", lr)
	}
	if v, _ := iscsi.Lookup(mustParse(t, lp.Data), "DataDigest"); v != "CRC32C" {
		t.Fatalf("DataDigest answered %q", v)
	}
	(&iscsi.SCSICommand{Final: true, Write: true, Attr: 1, LUN: [8]byte{0, 5}, ITT: 1, CmdSN: 1,
		ExpectedLen: 512, CDB: [16]byte{0x2A, 0, 0, 0, 0, 0, 0, 0, 1}}).Encode(&hd)
	var framed bytes.Buffer
	w := iscsi.NewWriter(&framed)
	w.Digests.Data = true
	w.Write(&hd, make([]byte, 512))
	w.Flush()
	b := framed.Bytes()
	b[iscsi.BHSLen+100] ^= 0x10 // corrupt the data, not the digest
	if _, err := c.nc.Write(b); err != nil {
		t.Fatal(err)
	}
	c.r.Digests.Data = true
	p := c.recv()
	if p.BHS.Opcode() != iscsi.OpReject || iscsi.DecodeReject(&p.BHS).Reason != iscsi.RejectDataDigest {
		t.Errorf("got %v %x, want Reject (data digest error)", p.BHS.Opcode(), p.BHS[:4])
	}
	var q iscsi.PDU
	if err := c.r.Read(&q); err == nil {
		t.Errorf("connection still open after a data digest error: %v", q.BHS.Opcode())
	}
	if err := other.Ping(testCtx(t), []byte("x")); err != nil {
		t.Errorf("other session: %v", err)
	}
}

func mustParse(t *testing.T, b []byte) []iscsi.KV {
	t.Helper()
	kvs, err := iscsi.ParseText(b)
	if err != nil {
		t.Fatal(err)
	}
	return kvs
}

// TestTooLargeWrite refuses a write beyond MaxTransfer with CHECK
// CONDITION before any data moves.
func TestTooLargeWrite(t *testing.T) {
	h := start(t, func(c *Config) { c.MaxTransfer = 64 << 10 })
	s := h.dial(initiator.Config{InitialR2T: true, NoImmediateData: true})
	r, err := s.Execute(testCtx(t), 5, write10(0, 256), make([]byte, 128<<10), 0)
	if err != nil {
		t.Fatal(err)
	}
	if sense, _ := scsi.ParseSense(r.Sense); r.Status != scsi.StatusCheckCondition || sense == nil || sense.ASC != 0x24 {
		t.Errorf("oversized write: %+v", r)
	}
	if r, err := s.Execute(testCtx(t), 5, write10(0, 1), make([]byte, 512), 0); err != nil || r.Status != 0 {
		t.Errorf("next write: %v %+v", err, r)
	}
}
