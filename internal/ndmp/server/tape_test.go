package server

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	"ferry/internal/ndmp/wire"
	"ferry/internal/scsi"
	"ferry/internal/tape"
)

func tapeOpenReq(dev string, mode wire.TapeOpenMode) *wire.TapeOpenRequest {
	return &wire.TapeOpenRequest{Device: dev, Mode: mode}
}

func TestTapeOpenRules(t *testing.T) {
	ts := newTestServer(t)
	ts.emptyDrive(t, "tape0")
	a := ts.client(t)
	a.login(wire.V4, testUser, testPassword)
	open := func(c *testClient, dev string, mode wire.TapeOpenMode) wire.Error {
		return c.callErr(wire.CodeTapeOpen, tapeOpenReq(dev, mode))
	}
	if e := a.callErr(wire.CodeTapeClose, &wire.TapeCloseRequest{}); e != wire.ErrDevNotOpen {
		t.Errorf("close unopened: %v", e)
	}
	if e := open(a, "bogus", wire.TapeReadMode); e != wire.ErrNoDevice {
		t.Errorf("open bogus: %v", e)
	}
	if e := open(a, "tape0", 123); e != wire.ErrIllegalArgs {
		t.Errorf("open mode 123: %v", e)
	}
	if e := open(a, "tape0", wire.TapeReadMode); e != wire.ErrNoTapeLoaded {
		t.Errorf("open empty drive: %v", e)
	}
	// RAW opens an empty drive; I/O then reports NO_TAPE_LOADED.
	if e := open(a, "tape0", wire.TapeRawMode); e != wire.ErrNone {
		t.Fatalf("RAW open of empty drive: %v", e)
	}
	var mr wire.TapeMtioReply
	a.call(wire.CodeTapeMtio, &wire.TapeMtioRequest{TapeOp: wire.MtioTUR}, &mr)
	if mr.Error != wire.ErrNoTapeLoaded {
		t.Errorf("TUR on empty drive: %v", mr.Error)
	}
	if e := a.callErr(wire.CodeTapeClose, &wire.TapeCloseRequest{}); e != wire.ErrNone {
		t.Fatalf("close: %v", e)
	}

	ts.loadDrive(t, "tape0")
	if e := open(a, "tape0", wire.TapeRdwrMode); e != wire.ErrNone {
		t.Fatalf("open RDWR: %v", e)
	}
	if e := open(a, "tape1", wire.TapeReadMode); e != wire.ErrDeviceOpened {
		t.Errorf("second open in session: %v", e)
	}
	if e := a.callErr(wire.CodeScsiOpen, &wire.ScsiOpenRequest{Device: "changer0"}); e != wire.ErrDeviceOpened {
		t.Errorf("SCSI open with tape open: %v", e)
	}
	b := ts.client(t)
	b.login(wire.V3, testUser, testPassword)
	if e := open(b, "tape0", wire.TapeReadMode); e != wire.ErrDeviceBusy {
		t.Errorf("open of a drive another session holds: %v", e)
	}
	if e := open(b, "tape0", wire.TapeRawMode); e != wire.ErrIllegalArgs {
		t.Errorf("v3 RAW open: %v", e)
	}
}

func TestTapeReadWriteOverWire(t *testing.T) {
	ts := newTestServer(t)
	ts.loadDrive(t, "tape1")
	c := ts.client(t)
	c.login(wire.V4, testUser, testPassword)
	if e := c.callErr(wire.CodeTapeOpen, tapeOpenReq("tape1", wire.TapeRdwrMode)); e != wire.ErrNone {
		t.Fatal(e)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	recs := [][]byte{make([]byte, 1<<20), make([]byte, 3), make([]byte, 65536)}
	for _, r := range recs {
		for i := range r {
			r[i] = byte(rng.Uint32())
		}
		var wr wire.TapeWriteReply
		if c.call(wire.CodeTapeWrite, &wire.TapeWriteRequest{DataOut: r}, &wr); wr.Error != wire.ErrNone || wr.Count != uint32(len(r)) {
			t.Fatalf("write %d: %v count %d", len(r), wr.Error, wr.Count)
		}
	}
	var st wire.TapeGetStateReply
	c.call(wire.CodeTapeGetState, &wire.TapeGetStateRequest{}, &st)
	if st.Error != wire.ErrNone || st.FileNum != 0 || st.Blockno != 3 || st.BlockSize != 0 ||
		st.TotalSpace == 0 || st.SpaceRemain >= st.TotalSpace || st.Unsupported != 0 {
		t.Errorf("state after writes: %+v", st)
	}
	mtio(t, c, wire.MtioREW, 1, 0)
	for i, r := range recs {
		var rr wire.TapeReadReply
		c.call(wire.CodeTapeRead, &wire.TapeReadRequest{Count: 2 << 20}, &rr)
		if rr.Error != wire.ErrNone || !bytes.Equal(rr.DataIn, r) {
			t.Fatalf("read %d: %v, %d bytes", i, rr.Error, len(rr.DataIn))
		}
	}
	// REW wrote the implicit filemark after the data.
	var rr wire.TapeReadReply
	c.call(wire.CodeTapeRead, &wire.TapeReadRequest{Count: 10}, &rr)
	if rr.Error != wire.ErrEOF {
		t.Errorf("read after data: %v, want EOF (implicit filemark)", rr.Error)
	}
	c.call(wire.CodeTapeRead, &wire.TapeReadRequest{Count: 0x80000000}, &rr)
	if rr.Error != wire.ErrIllegalArgs {
		t.Errorf("read of 2 GiB: %v", rr.Error)
	}

	// A session that ends with unterminated data gets the filemark too.
	mtio(t, c, wire.MtioREW, 1, 0)
	c.call(wire.CodeTapeWrite, &wire.TapeWriteRequest{DataOut: []byte("label")}, &wire.TapeWriteReply{})
	c.send(wire.CodeConnectClose, nil)
	c.expectClosed()

	d := ts.client(t)
	d.login(wire.V3, testUser, testPassword)
	if e := d.callErr(wire.CodeTapeOpen, tapeOpenReq("tape1", wire.TapeReadMode)); e != wire.ErrNone {
		t.Fatal(e)
	}
	d.call(wire.CodeTapeRead, &wire.TapeReadRequest{Count: 100}, &rr)
	if rr.Error != wire.ErrNone || string(rr.DataIn) != "label" {
		t.Fatalf("read label: %v %q", rr.Error, rr.DataIn)
	}
	d.call(wire.CodeTapeRead, &wire.TapeReadRequest{Count: 100}, &rr)
	if rr.Error != wire.ErrEOF {
		t.Errorf("after label: %v, want EOF", rr.Error)
	}
	d.call(wire.CodeTapeGetState, &wire.TapeGetStateRequest{}, &st)
	if st.FileNum != 1 || st.Blockno != 0 {
		t.Errorf("v3 state after EOF: file %d block %d", st.FileNum, st.Blockno)
	}
}

func mtio(t *testing.T, c *testClient, op wire.MtioOp, count, wantResid uint32) {
	t.Helper()
	var r wire.TapeMtioReply
	if he := c.call(wire.CodeTapeMtio, &wire.TapeMtioRequest{TapeOp: op, Count: count}, &r); he != wire.ErrNone || r.Error != wire.ErrNone || r.ResidCount != wantResid {
		t.Fatalf("MTIO %v %d: header %v error %v resid %d", op, count, he, r.Error, r.ResidCount)
	}
}

// While the mover is listening it owns the drive.
func TestTapeRefusedWhileMoverActive(t *testing.T) {
	ts := newTestServer(t)
	ts.loadDrive(t, "tape0")
	c := ts.client(t)
	c.login(wire.V4, testUser, testPassword)
	if e := c.callErr(wire.CodeTapeOpen, tapeOpenReq("tape0", wire.TapeRdwrMode)); e != wire.ErrNone {
		t.Fatal(e)
	}
	var lr wire.MoverListenReply
	c.call(wire.CodeMoverListen, &wire.MoverListenRequest{Mode: wire.MoverModeRead, AddrType: wire.AddrTCP}, &lr)
	if lr.Error != wire.ErrNone || lr.ConnectAddr.Type != wire.AddrTCP || len(lr.ConnectAddr.TCP) == 0 {
		t.Fatalf("MOVER_LISTEN: %+v", lr)
	}
	var ip [4]byte
	binary.BigEndian.PutUint32(ip[:], lr.ConnectAddr.TCP[0].IP)
	if ip != [4]byte{127, 0, 0, 1} || lr.ConnectAddr.TCP[0].Port == 0 {
		t.Errorf("advertised %v:%d, want the control connection's 127.0.0.1", ip, lr.ConnectAddr.TCP[0].Port)
	}
	var mr wire.TapeMtioReply
	c.call(wire.CodeTapeMtio, &wire.TapeMtioRequest{TapeOp: wire.MtioREW}, &mr)
	var wr wire.TapeWriteReply
	c.call(wire.CodeTapeWrite, &wire.TapeWriteRequest{DataOut: []byte("x")}, &wr)
	var rr wire.TapeReadReply
	c.call(wire.CodeTapeRead, &wire.TapeReadRequest{Count: 1}, &rr)
	cr := cdbVia(c, wire.CodeTapeExecuteCdb, &wire.ScsiExecuteCdbRequest{Cdb: []byte{0x01, 0, 0, 0, 0, 0}})
	if mr.Error != wire.ErrIllegalState || wr.Error != wire.ErrIllegalState || rr.Error != wire.ErrIllegalState || cr.Error != wire.ErrIllegalState {
		t.Errorf("tape I/O with mover listening: mtio %v write %v read %v cdb %v", mr.Error, wr.Error, rr.Error, cr.Error)
	}
	if e := c.callErr(wire.CodeTapeClose, &wire.TapeCloseRequest{}); e != wire.ErrDeviceBusy {
		t.Errorf("close with mover listening: %v", e)
	}
	var st wire.TapeGetStateReply
	if c.call(wire.CodeTapeGetState, &wire.TapeGetStateRequest{}, &st); st.Error != wire.ErrNone {
		t.Errorf("get state with mover listening: %v", st.Error)
	}
	if e := c.callErr(wire.CodeMoverAbort, &wire.MoverAbortRequest{}); e != wire.ErrNone {
		t.Fatal(e)
	}
	mtio(t, c, wire.MtioREW, 1, 0) // HALTED: the drive is the DMA's again
	if e := c.callErr(wire.CodeMoverStop, &wire.MoverStopRequest{}); e != wire.ErrNone {
		t.Fatal(e)
	}
	if e := c.callErr(wire.CodeTapeClose, &wire.TapeCloseRequest{}); e != wire.ErrNone {
		t.Fatal(e)
	}
}

// RDWR (and RAW) on a write-protected cartridge is refused; READ works.
func TestTapeWriteProtect(t *testing.T) {
	ts := newTestServer(t)
	barcode := ts.loadDrive(t, "tape2")
	path, err := ts.lib.CartridgePath(barcode)
	if err != nil {
		t.Fatal(err)
	}
	if err := tape.SetWriteProtected(path, true); err != nil {
		t.Fatal(err)
	}
	c := ts.client(t)
	c.login(wire.V4, testUser, testPassword)
	if e := c.callErr(wire.CodeTapeOpen, tapeOpenReq("tape2", wire.TapeRdwrMode)); e != wire.ErrWriteProtect {
		t.Errorf("RDWR open of a write-protected cartridge: %v", e)
	}
	// READ and RAW open it (spec §3.4.2); RAW then refuses writes.
	for _, mode := range []wire.TapeOpenMode{wire.TapeReadMode, wire.TapeRawMode} {
		if e := c.callErr(wire.CodeTapeOpen, tapeOpenReq("tape2", mode)); e != wire.ErrNone {
			t.Fatalf("%v open: %v", mode, e)
		}
		var st wire.TapeGetStateReply
		c.call(wire.CodeTapeGetState, &wire.TapeGetStateRequest{}, &st)
		if st.Flags&wire.TapeStateWrProt == 0 {
			t.Errorf("%v: flags %#x lack WR_PROT", mode, st.Flags)
		}
		want := map[wire.TapeOpenMode]wire.Error{wire.TapeReadMode: wire.ErrPermission, wire.TapeRawMode: wire.ErrWriteProtect}[mode]
		var wr wire.TapeWriteReply
		if c.call(wire.CodeTapeWrite, &wire.TapeWriteRequest{DataOut: []byte("x")}, &wr); wr.Error != want {
			t.Errorf("%v: write %v, want %v", mode, wr.Error, want)
		}
		var mr wire.TapeMtioReply
		if c.call(wire.CodeTapeMtio, &wire.TapeMtioRequest{TapeOp: wire.MtioEOF, Count: 1}, &mr); mr.Error != want {
			t.Errorf("%v: EOF %v, want %v", mode, mr.Error, want)
		}
		if e := c.callErr(wire.CodeTapeClose, &wire.TapeCloseRequest{}); e != wire.ErrNone {
			t.Fatal(e)
		}
	}
}

// TAPE_EXECUTE_CDB: the drive's minimal SSC, in step with the TAPE service.
func TestTapeExecuteCdb(t *testing.T) {
	ts := newTestServer(t)
	ts.loadDrive(t, "tape0")
	c := ts.client(t)
	c.login(wire.V4, testUser, testPassword)
	tur := &wire.ScsiExecuteCdbRequest{Cdb: make([]byte, 6)}
	if r := cdbVia(c, wire.CodeTapeExecuteCdb, tur); r.Error != wire.ErrDevNotOpen {
		t.Errorf("without an open drive: %v", r.Error)
	}
	if e := c.callErr(wire.CodeTapeOpen, tapeOpenReq("tape0", wire.TapeRdwrMode)); e != wire.ErrNone {
		t.Fatal(e)
	}
	if r := cdbVia(c, wire.CodeTapeExecuteCdb, tur); r.Error != wire.ErrNone || r.Status != scsi.StatusGood {
		t.Errorf("TEST UNIT READY: %v status %#x", r.Error, r.Status)
	}
	r := cdbVia(c, wire.CodeTapeExecuteCdb, &wire.ScsiExecuteCdbRequest{Flags: wire.ScsiDataIn, DataInLen: 6, Cdb: []byte{0x05, 0, 0, 0, 0, 0}})
	if r.Status != scsi.StatusGood || len(r.DataIn) != 6 || binary.BigEndian.Uint32(r.DataIn) != maxTapeRecord || binary.BigEndian.Uint16(r.DataIn[4:]) != 1 {
		t.Errorf("READ BLOCK LIMITS: status %#x data % x", r.Status, r.DataIn)
	}
	// REWIND through the CDB is seen by TAPE_GET_STATE.
	c.call(wire.CodeTapeWrite, &wire.TapeWriteRequest{DataOut: []byte("rec")}, &wire.TapeWriteReply{})
	if r := cdbVia(c, wire.CodeTapeExecuteCdb, &wire.ScsiExecuteCdbRequest{Cdb: []byte{0x01, 0, 0, 0, 0, 0}}); r.Status != scsi.StatusGood {
		t.Errorf("REWIND: status %#x sense % x", r.Status, r.ExtSense)
	}
	var st wire.TapeGetStateReply
	if c.call(wire.CodeTapeGetState, &wire.TapeGetStateRequest{}, &st); st.FileNum != 0 || st.Blockno != 0 {
		t.Errorf("after REWIND: file %d block %d", st.FileNum, st.Blockno)
	}
	// Medium access goes through TAPE_READ/WRITE: READ(6) is unsupported.
	r = cdbVia(c, wire.CodeTapeExecuteCdb, &wire.ScsiExecuteCdbRequest{Flags: wire.ScsiDataIn, DataInLen: 512, Cdb: []byte{0x08, 0, 0, 2, 0, 0}})
	if s, err := scsi.ParseSense(r.ExtSense); r.Status != scsi.StatusCheckCondition || err != nil || s.Key != scsi.IllegalRequest || s.ASC != 0x20 {
		t.Errorf("READ(6): status %#x sense % x", r.Status, r.ExtSense)
	}
	// After MTIO OFF the drive is not ready.
	mtio(t, c, wire.MtioOFF, 1, 0)
	r = cdbVia(c, wire.CodeTapeExecuteCdb, tur)
	if s, err := scsi.ParseSense(r.ExtSense); r.Status != scsi.StatusCheckCondition || err != nil || s.Key != scsi.NotReady || s.ASC != 0x3A {
		t.Errorf("TEST UNIT READY after OFF: status %#x sense % x", r.Status, r.ExtSense)
	}
}

// TestDamagedCartridgeOverWire: a cartridge whose file was cut short is
// refused for writing with WRITE_PROTECT, read in READ mode up to where its
// data ends, and then NDMP_IO_ERR; each refusal is preceded by an
// NDMP_LOG_MESSAGE naming the cartridge and where its data ends.
func TestDamagedCartridgeOverWire(t *testing.T) {
	ts := newTestServer(t)
	barcode := ts.loadDrive(t, "tape1")
	m, err := ts.lib.OpenDrive("tape1", false)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		m.WriteRecord(bytes.Repeat([]byte{byte(i)}, 1000))
	}
	m.WriteFilemarks(1)
	if err := ts.lib.CloseDrive("tape1", m); err != nil {
		t.Fatal(err)
	}
	path, _ := ts.lib.CartridgePath(barcode)
	st, _ := os.Stat(path)
	os.Truncate(path, st.Size()-500) // the third record loses its end

	c := ts.client(t)
	c.login(wire.V4, testUser, testPassword)
	// callLogged calls and returns the reply's error with the text of the
	// log message posted before it.
	callLogged := func(code wire.Code, req, reply wire.Body) (wire.Error, string) {
		t.Helper()
		seq := c.send(code, req)
		var logged string
		for {
			h, body := c.read()
			if h.Type == wire.Request && h.Code == wire.CodeLogMessage {
				var lm wire.LogMessage
				if err := decodeBody(body, &lm, wire.V4); err != nil {
					t.Fatal(err)
				}
				logged = lm.Entry
				continue
			}
			if h.Type == wire.Request {
				continue
			}
			if h.ReplySequence != seq {
				t.Fatalf("reply to %d, want %d", h.ReplySequence, seq)
			}
			if err := decodeBody(body, reply, wire.V4); err != nil {
				t.Fatal(err)
			}
			return h.Error, logged
		}
	}
	var er wire.ErrorReply
	callLogged(wire.CodeTapeOpen, tapeOpenReq("tape1", wire.TapeRdwrMode), &er)
	if er.Error != wire.ErrWriteProtect {
		t.Fatalf("RDWR open of a damaged cartridge: %v, want WRITE_PROTECT", er.Error)
	}
	if e := c.callErr(wire.CodeTapeOpen, tapeOpenReq("tape1", wire.TapeReadMode)); e != wire.ErrNone {
		t.Fatalf("READ open: %v", e)
	}
	for i := range 2 {
		var rr wire.TapeReadReply
		c.call(wire.CodeTapeRead, &wire.TapeReadRequest{Count: 4096}, &rr)
		if rr.Error != wire.ErrNone || len(rr.DataIn) != 1000 || rr.DataIn[0] != byte(i) {
			t.Fatalf("read %d: %v, %d bytes", i, rr.Error, len(rr.DataIn))
		}
	}
	var rr wire.TapeReadReply
	_, logged := callLogged(wire.CodeTapeRead, &wire.TapeReadRequest{Count: 4096}, &rr)
	if rr.Error != wire.ErrIO {
		t.Fatalf("read of the lost record: %v, want IO_ERR", rr.Error)
	}
	if !strings.Contains(logged, barcode) || !strings.Contains(logged, "tape file 0 at record 2") {
		t.Fatalf("log message %q does not name the cartridge and where its data ends", logged)
	}
}
