package server

import (
	"encoding/binary"
	"strings"
	"testing"

	"ferry/internal/changer"
	"ferry/internal/ndmp/wire"
	"ferry/internal/scsi"
)

func cdb(c *testClient, r *wire.ScsiExecuteCdbRequest) *wire.ScsiExecuteCdbReply {
	c.t.Helper()
	return cdbVia(c, wire.CodeScsiExecuteCdb, r)
}

// cdbVia sends r as SCSI_EXECUTE_CDB or TAPE_EXECUTE_CDB.
func cdbVia(c *testClient, code wire.Code, r *wire.ScsiExecuteCdbRequest) *wire.ScsiExecuteCdbReply {
	c.t.Helper()
	var reply wire.ScsiExecuteCdbReply
	if he := c.call(code, r, &reply); he != wire.ErrNone {
		c.t.Fatalf("%v: header %v", code, he)
	}
	return &reply
}

func TestScsiService(t *testing.T) {
	ts := newTestServer(t)
	ts.emptyDrive(t, "tape1")
	c := ts.client(t)
	c.login(wire.V4, testUser, testPassword)
	inquiry := &wire.ScsiExecuteCdbRequest{Flags: wire.ScsiDataIn, DataInLen: 96, Cdb: []byte{0x12, 0, 0, 0, 96, 0}}

	if r := cdb(c, inquiry); r.Error != wire.ErrDevNotOpen {
		t.Errorf("CDB without open: %v", r.Error)
	}
	for _, code := range []wire.Code{wire.CodeScsiClose, wire.CodeScsiResetDevice} {
		if e := c.callErr(code, nil); e != wire.ErrDevNotOpen {
			t.Errorf("%v without open: %v", code, e)
		}
	}
	if e := c.callErr(wire.CodeScsiOpen, &wire.ScsiOpenRequest{Device: "tape0"}); e != wire.ErrNoDevice {
		t.Errorf("open tape0 as SCSI: %v", e)
	}
	if e := c.callErr(wire.CodeScsiOpen, &wire.ScsiOpenRequest{Device: "changer0"}); e != wire.ErrNone {
		t.Fatalf("open changer0: %v", e)
	}
	other := ts.client(t)
	other.login(wire.V3, testUser, testPassword)
	if e := other.callErr(wire.CodeScsiOpen, &wire.ScsiOpenRequest{Device: "changer0"}); e != wire.ErrDeviceBusy {
		t.Errorf("second session opens changer0: %v", e)
	}
	if e := c.callErr(wire.CodeTapeOpen, tapeOpenReq("tape0", wire.TapeReadMode)); e != wire.ErrDeviceOpened {
		t.Errorf("tape open with changer open: %v", e)
	}
	var gs wire.ScsiGetStateReply
	if c.call(wire.CodeScsiGetState, &wire.ScsiGetStateRequest{}, &gs); gs != (wire.ScsiGetStateReply{}) {
		t.Errorf("get state %+v", gs)
	}

	r := cdb(c, inquiry)
	if r.Error != wire.ErrNone || r.Status != scsi.StatusGood || len(r.DataIn) != 96 || r.DataIn[0]&0x1f != 0x08 {
		t.Fatalf("INQUIRY: %v status %#x data %x", r.Error, r.Status, r.DataIn)
	}
	if !strings.Contains(string(r.DataIn[8:32]), "FERRY") {
		t.Errorf("INQUIRY identity %q", r.DataIn[8:32])
	}
	// The reply's data is cut to datain_len.
	short := *inquiry
	short.DataInLen = 36
	if r := cdb(c, &short); len(r.DataIn) != 36 {
		t.Errorf("datain_len 36: got %d bytes", len(r.DataIn))
	}
	// An unknown opcode is a SCSI failure, not an NDMP one.
	r = cdb(c, &wire.ScsiExecuteCdbRequest{Cdb: []byte{0xff, 0, 0, 0, 0, 0}})
	if r.Error != wire.ErrNone || r.Status != scsi.StatusCheckCondition || len(r.ExtSense) < 14 || r.ExtSense[2]&0x0f != 0x05 {
		t.Errorf("bad opcode: %v status %#x sense %x", r.Error, r.Status, r.ExtSense)
	}
	if r := cdb(c, &wire.ScsiExecuteCdbRequest{Flags: wire.ScsiDataIn | wire.ScsiDataOut, Cdb: []byte{0, 0, 0, 0, 0, 0}}); r.Error != wire.ErrIllegalArgs {
		t.Errorf("both data directions: %v", r.Error)
	}

	// MOVE MEDIUM from the first full slot to tape1's drive element.
	var src, dst changer.Element
	for _, e := range ts.elements(t) {
		if e.Type == changer.Storage && e.Full && src.Address == 0 {
			src = e
		}
		if e.Type == changer.DataTransfer && e.Drive == "tape1" {
			dst = e
		}
	}
	move := []byte{0xA5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	binary.BigEndian.PutUint16(move[4:], src.Address)
	binary.BigEndian.PutUint16(move[6:], dst.Address)
	if r := cdb(c, &wire.ScsiExecuteCdbRequest{Flags: 0, Cdb: move}); r.Error != wire.ErrNone || r.Status != scsi.StatusGood {
		t.Fatalf("MOVE MEDIUM: %v status %#x sense %x", r.Error, r.Status, r.ExtSense)
	}
	if e := ts.element(t, dst.Address); !e.Full || e.Barcode != src.Barcode {
		t.Errorf("after MOVE MEDIUM the drive holds %+v", e)
	}

	if e := c.callErr(wire.CodeScsiResetDevice, &wire.ScsiResetDeviceRequest{}); e != wire.ErrNone {
		t.Errorf("reset: %v", e)
	}
	if e := c.callErr(wire.CodeScsiClose, &wire.ScsiCloseRequest{}); e != wire.ErrNone {
		t.Errorf("close: %v", e)
	}
	if e := other.callErr(wire.CodeScsiOpen, &wire.ScsiOpenRequest{Device: "changer0"}); e != wire.ErrNone {
		t.Errorf("open after the first session closed: %v", e)
	}
}
