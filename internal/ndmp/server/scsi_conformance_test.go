package server

import (
	"context"
	"encoding/binary"
	"sync"
	"testing"

	"ferry/internal/ndmp/wire"
	"ferry/internal/scsi"
	"ferry/internal/scsi/scsitest"
)

// ndmpDevice is a scsi.Device on the far side of NDMP_SCSI_EXECUTE_CDB: the
// NDMP SCSI service as a transport, seen from the DMA.
type ndmpDevice struct {
	mu   sync.Mutex
	c    *testClient
	code wire.Code // SCSI_EXECUTE_CDB or TAPE_EXECUTE_CDB
}

func (d *ndmpDevice) Execute(ctx context.Context, cmd *scsi.Command) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	req := &wire.ScsiExecuteCdbRequest{Cdb: cmd.CDB, DataOut: cmd.DataOut, Flags: wire.ScsiDataIn, DataInLen: 1 << 16}
	if len(cmd.DataOut) > 0 {
		req.Flags, req.DataInLen = wire.ScsiDataOut, 0
	}
	r := cdbVia(d.c, d.code, req)
	if r.Error != wire.ErrNone {
		return r.Error
	}
	cmd.DataIn = append([]byte(nil), r.DataIn...)
	switch r.Status {
	case scsi.StatusGood:
		return nil
	case scsi.StatusCheckCondition:
		s, err := scsi.ParseSense(r.ExtSense)
		if err != nil {
			return err
		}
		return s
	}
	return scsi.StatusError{Status: r.Status}
}

// The SCSI core's conformance suite, run through the NDMP SCSI service: the
// NDMP front door must deliver CDBs, data, status and sense faithfully.
func TestScsiConformanceOverNDMP(t *testing.T) {
	ts := newTestServer(t)
	c := ts.client(t)
	c.login(wire.V4, testUser, testPassword)
	if e := c.callErr(wire.CodeScsiOpen, &wire.ScsiOpenRequest{Device: "changer0"}); e != wire.ErrNone {
		t.Fatal(e)
	}
	res := make([]byte, 12)
	res[0], res[1] = 0xB8, 0x10 // READ ELEMENT STATUS, VOLTAG
	binary.BigEndian.PutUint16(res[4:], 0xFFFF)
	scsitest.Run(t, &ndmpDevice{c: c, code: wire.CodeScsiExecuteCdb}, scsitest.Expect{
		Type: scsi.MediumChanger, Vendor: "FERRY", Product: "VIRTUAL CHANGER", Serial: deviceSerial(ts.host.hostID, "changer0"),
		Alloc: []scsitest.AllocCDB{
			{Name: "READ ELEMENT STATUS", CDB: res, Alloc: scsi.Field{Offset: 7, Size: 3}},
			{Name: "MODE SENSE(6)", CDB: []byte{0x1A, 0x08, 0x3F, 0, 0, 0}, Alloc: scsi.Alloc6},
		},
	})
}

// The same suite through TAPE_EXECUTE_CDB on an open drive.
func TestTapeCdbConformance(t *testing.T) {
	ts := newTestServer(t)
	ts.loadDrive(t, "tape1")
	c := ts.client(t)
	c.login(wire.V4, testUser, testPassword)
	if e := c.callErr(wire.CodeTapeOpen, tapeOpenReq("tape1", wire.TapeReadMode)); e != wire.ErrNone {
		t.Fatal(e)
	}
	scsitest.Run(t, &ndmpDevice{c: c, code: wire.CodeTapeExecuteCdb}, scsitest.Expect{
		Type: scsi.SequentialAccess, Vendor: "FERRY", Product: "VIRTUAL TAPE", Serial: deviceSerial(ts.host.hostID, "tape1"),
	})
}
