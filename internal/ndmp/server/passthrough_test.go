package server

import (
	"context"
	"slices"
	"sync"
	"testing"

	"ferry/internal/changer"
	"ferry/internal/ndmp/wire"
	"ferry/internal/scsi"
	"ferry/internal/scsi/smc"
)

// recordingChanger is a real changer as a pass-through device presents
// itself (a scsi.Device), here ferry's SMC over an in-memory changer,
// recording each CDB and the data-in buffer it was lent.
type recordingChanger struct {
	mu   sync.Mutex
	dev  scsi.Device
	cdbs [][]byte
	lent []int
}

func (r *recordingChanger) Execute(ctx context.Context, cmd *scsi.Command) error {
	r.mu.Lock()
	r.cdbs = append(r.cdbs, slices.Clone(cmd.CDB))
	r.lent = append(r.lent, cap(cmd.Buffer))
	r.mu.Unlock()
	return r.dev.Execute(ctx, cmd)
}

// TestPassThroughChanger serves a configured real changer beside the
// library's virtual one: CONFIG_GET_SCSI_INFO lists it, SCSI_OPEN opens
// it by its device name while another session has the virtual changer,
// CDBs reach it unchanged with a data-in buffer of the DMA's length,
// its sense comes back, and a reset allows medium removal on it.
func TestPassThroughChanger(t *testing.T) {
	c := changer.New(changer.Layout{Drives: []string{"d0"}, Slots: 2})
	if err := c.Place(0x1000, "R00001L8"); err != nil {
		t.Fatal(err)
	}
	rc := &recordingChanger{dev: smc.New(smc.NewMemory(c), smc.Identity{Serial: "REAL01"})}
	ts := newTestServer(t, func(cfg *Config) {
		cfg.PassThroughChangers = map[string]scsi.Device{"/dev/sg3": rc}
	})
	cl := ts.client(t)
	cl.login(wire.V4, testUser, testPassword)

	var info wire.ConfigGetScsiInfoReply
	if e := cl.call(wire.CodeConfigGetScsiInfo, nil, &info); e != wire.ErrNone {
		t.Fatal(e)
	}
	var names []string
	for _, d := range info.ScsiInfo {
		for _, cp := range d.Caplist {
			names = append(names, cp.Device)
		}
	}
	if !slices.Equal(names, []string{"changer0", "/dev/sg3"}) {
		t.Fatalf("SCSI devices listed: %v", names)
	}

	virt := ts.client(t)
	virt.login(wire.V4, testUser, testPassword)
	if e := virt.callErr(wire.CodeScsiOpen, &wire.ScsiOpenRequest{Device: "changer0"}); e != wire.ErrNone {
		t.Fatalf("open the virtual changer: %v", e)
	}
	if e := cl.callErr(wire.CodeScsiOpen, &wire.ScsiOpenRequest{Device: "/dev/sg3"}); e != wire.ErrNone {
		t.Fatalf("open the pass-through changer: %v", e)
	}
	other := ts.client(t)
	other.login(wire.V3, testUser, testPassword)
	if e := other.callErr(wire.CodeScsiOpen, &wire.ScsiOpenRequest{Device: "/dev/sg3"}); e != wire.ErrDeviceBusy {
		t.Fatalf("second session opens /dev/sg3: %v", e)
	}

	res := smc.ReadElementStatusCDB(4096)
	r := cdb(cl, &wire.ScsiExecuteCdbRequest{Flags: wire.ScsiDataIn, DataInLen: 1000, Cdb: res})
	if r.Error != wire.ErrNone || r.Status != scsi.StatusGood {
		t.Fatalf("READ ELEMENT STATUS: %v status %#x", r.Error, r.Status)
	}
	els, err := smc.DecodeElementStatus(r.DataIn)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range els {
		found = found || e.Address == 0x1000 && e.Barcode == "R00001L8"
	}
	if !found {
		t.Fatalf("the real changer's cartridge is missing from %+v", els)
	}
	r = cdb(cl, &wire.ScsiExecuteCdbRequest{Cdb: smc.MoveMediumCDB(0, 0x1001, 0x0100)})
	if r.Error != wire.ErrNone || r.Status != scsi.StatusCheckCondition || len(r.ExtSense) == 0 {
		t.Fatalf("move from an empty slot: %v status %#x sense %x", r.Error, r.Status, r.ExtSense)
	}
	if s, err := scsi.ParseSense(r.ExtSense); err != nil || !s.Is(scsi.MediumSourceElementEmpty()) {
		t.Fatalf("sense %v, %v", s, err)
	}
	if e := cl.callErr(wire.CodeScsiResetDevice, nil); e != wire.ErrNone {
		t.Fatal(e)
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.cdbs) != 3 || !slices.Equal(rc.cdbs[0], res) || rc.lent[0] != 1000 || rc.lent[1] != 0 {
		t.Fatalf("the changer saw CDBs %x lent %v", rc.cdbs, rc.lent)
	}
	if !slices.Equal(rc.cdbs[2], []byte{0x1E, 0, 0, 0, 0, 0}) {
		t.Fatalf("reset sent %x, want PREVENT ALLOW MEDIUM REMOVAL (allow)", rc.cdbs[2])
	}
}
