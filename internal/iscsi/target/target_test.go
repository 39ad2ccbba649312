package target

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"sync"
	"testing"
	"time"

	"ferry/internal/iscsi"
	"ferry/internal/iscsi/initiator"
	"ferry/internal/library"
	"ferry/internal/scsi"
	"ferry/internal/scsi/smc"
	"ferry/internal/scsi/ssc"
	"ferry/internal/testsupport/servetest"
)

const testIQN = "iqn.2026-01.dev.ferry:test"

type harness struct {
	t     testing.TB
	tgt   *Target
	addr  string
	units *scsi.LUs
	lib   *library.Library
}

// start serves a target on 127.0.0.1:0 with the changer of a real library
// on LUN 0 and an in-memory disk on LUN 5.
func start(t testing.TB, mod func(*Config)) *harness {
	t.Helper()
	lib, err := library.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lib.Close() })
	h := &harness{t: t, lib: lib, units: scsi.NewLUs()}
	h.units.Set(0, smc.New(lib, smc.Identity{Serial: "chg0"}))
	h.units.Set(1, ssc.New(lib, lib.DriveNames()[0], ssc.Identity{}))
	h.addSBCDisk(5, 1<<20)
	cfg := Config{Name: testIQN, Units: h.units}
	if mod != nil {
		mod(&cfg)
	}
	h.tgt, err = New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.addr = servetest.Start(t, h.tgt, ErrClosed)
	return h
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func (h *harness) dial(cfg initiator.Config) *initiator.Session {
	h.t.Helper()
	if cfg.TargetName == "" {
		cfg.TargetName = testIQN
	}
	s, err := initiator.Dial(testCtx(h.t), h.addr, cfg)
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { s.Close() })
	return s
}

func read10(lba uint32, n uint16) []byte {
	return []byte{0x28, 0, byte(lba >> 24), byte(lba >> 16), byte(lba >> 8), byte(lba), 0, byte(n >> 8), byte(n), 0}
}

func write10(lba uint32, n uint16) []byte {
	c := read10(lba, n)
	c[0] = 0x2A
	return c
}

func TestLoginInquiryAndReportLUNs(t *testing.T) {
	h := start(t, nil)
	s := h.dial(initiator.Config{})
	ctx := testCtx(t)
	for lun, typ := range map[uint64]byte{0: 0x08, 1: 0x01, 5: 0x00, 3: 0x7F} {
		r, err := s.Execute(ctx, lun, []byte{0x12, 0, 0, 0, 96, 0}, nil, 96)
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != 0 || len(r.Data) == 0 || r.Data[0] != typ {
			t.Errorf("LUN %d: INQUIRY status %#x data %x, want type %#x", lun, r.Status, r.Data[:min(8, len(r.Data))], typ)
		}
	}
	r, err := s.Execute(ctx, 3, []byte{0xA0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0}, nil, 256)
	if err != nil {
		t.Fatal(err)
	}
	want := scsi.ReportLUNsData([]uint16{0, 1, 5})
	if !bytes.Equal(r.Data, want) {
		t.Errorf("REPORT LUNS = %x, want %x", r.Data, want)
	}
	if !r.Underflow || r.Residual != uint32(256-len(want)) {
		t.Errorf("REPORT LUNS residual %v/%d", r.Underflow, r.Residual)
	}
}

func TestReadWriteSizes(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  initiator.Config
	}{
		{"defaults", initiator.Config{}},
		{"r2t-only", initiator.Config{InitialR2T: true, NoImmediateData: true, MaxBurstLength: 4096, MaxOutstandingR2T: 1}},
		{"digests-small-pdus", initiator.Config{HeaderDigest: true, DataDigest: true, MaxRecvDataSegmentLength: 1024, FirstBurstLength: 2048, MaxBurstLength: 8192, MaxOutstandingR2T: 4}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := start(t, func(c *Config) { c.MaxRecvDataSegmentLength = 4096 })
			s := h.dial(tc.cfg)
			ctx := testCtx(t)
			for _, blocks := range []uint16{1, 7, 64, 200} {
				data := make([]byte, int(blocks)*512)
				rand.Read(data)
				r, err := s.Execute(ctx, 5, write10(10, blocks), data, 0)
				if err != nil || r.Status != 0 {
					t.Fatalf("write %d blocks: %v %+v", blocks, err, r)
				}
				r, err = s.Execute(ctx, 5, read10(10, blocks), nil, len(data))
				if err != nil || r.Status != 0 {
					t.Fatalf("read %d blocks: %v %+v", blocks, err, r)
				}
				if !bytes.Equal(r.Data, data) {
					t.Fatalf("read back %d blocks differs", blocks)
				}
			}
		})
	}
}

func TestResiduals(t *testing.T) {
	h := start(t, nil)
	s := h.dial(initiator.Config{})
	ctx := testCtx(t)
	// Ask for more than the command transfers: underflow.
	r, err := s.Execute(ctx, 5, read10(0, 1), nil, 1024)
	if err != nil || r.Status != 0 || !r.Underflow || r.Residual != 512 || len(r.Data) != 512 {
		t.Errorf("underflow: %v %+v", err, r)
	}
	// Ask for less: overflow, only what was expected arrives.
	r, err = s.Execute(ctx, 5, read10(0, 2), nil, 512)
	if err != nil || r.Status != 0 || !r.Overflow || r.Residual != 512 || len(r.Data) != 512 {
		t.Errorf("overflow: %v %+v", err, r)
	}
	// Writes: the SBC device says how much data-out its CDB takes.
	r, err = s.Execute(ctx, 5, write10(0, 1), make([]byte, 1024), 0)
	if err != nil || r.Status != 0 || !r.Underflow || r.Residual != 512 {
		t.Errorf("write underflow: %v %+v", err, r)
	}
	r, err = s.Execute(ctx, 5, write10(0, 2), make([]byte, 512), 0)
	if err != nil || r.Status != 0 || !r.Overflow || r.Residual != 512 {
		t.Errorf("write overflow: %v %+v", err, r)
	}
	// CHECK CONDITION carries sense.
	r, err = s.Execute(ctx, 5, read10(1<<30, 1), nil, 512)
	if err != nil || r.Status != scsi.StatusCheckCondition {
		t.Fatalf("out of range: %v %+v", err, r)
	}
	sense, err := scsi.ParseSense(r.Sense)
	if err != nil || !sense.Is(scsi.LBAOutOfRange()) {
		t.Errorf("sense %v %v", sense, err)
	}
}

func TestConcurrentCommandsAndSessions(t *testing.T) {
	h := start(t, func(c *Config) { c.QueueDepth = 8; c.Workers = 4 })
	ctx := testCtx(t)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := range 4 {
		s := h.dial(initiator.Config{})
		for j := range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				lba := uint32(i*256 + j*16)
				data := bytes.Repeat([]byte{byte(i), byte(j)}, 16*256)
				if r, err := s.Execute(ctx, 5, write10(lba, 16), data, 0); err != nil || r.Status != 0 {
					errs <- errors.New("write failed")
					return
				}
				r, err := s.Execute(ctx, 5, read10(lba, 16), nil, len(data))
				if err != nil || !bytes.Equal(r.Data, data) {
					errs <- errors.New("read back differs")
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestNOPAndTaskManagement(t *testing.T) {
	h := start(t, nil)
	s := h.dial(initiator.Config{})
	ctx := testCtx(t)
	if err := s.Ping(ctx, []byte("ping data")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		fn   uint8
		lun  uint64
		want uint8
	}{
		{iscsi.TMFAbortTask, 5, iscsi.TMFNoTask},
		{iscsi.TMFAbortTaskSet, 5, iscsi.TMFComplete},
		{iscsi.TMFClearTaskSet, 9, iscsi.TMFNoLUN},
		{iscsi.TMFLUNReset, 5, iscsi.TMFComplete},
		{iscsi.TMFTargetWarmReset, 0, iscsi.TMFComplete},
		{iscsi.TMFClearACA, 5, iscsi.TMFUnsupported},
		{iscsi.TMFTaskReassign, 5, iscsi.TMFReassignUnsupported},
	} {
		got, err := s.TaskMgmt(ctx, tc.fn, tc.lun, 0x1234)
		if err != nil || got != tc.want {
			t.Errorf("TMF %d: %d, %v; want %d", tc.fn, got, err, tc.want)
		}
	}
	// The resets left a unit attention on LUN 5.
	r, err := s.Execute(ctx, 5, []byte{0, 0, 0, 0, 0, 0}, nil, 0)
	if err != nil || r.Status != scsi.StatusCheckCondition {
		t.Fatalf("TUR after reset: %v %+v", err, r)
	}
	if sense, _ := scsi.ParseSense(r.Sense); sense == nil || sense.Key != scsi.UnitAttention {
		t.Errorf("sense after reset: %v", sense)
	}
}

func TestLUNsChanged(t *testing.T) {
	h := start(t, nil)
	s := h.dial(initiator.Config{})
	ctx := testCtx(t)
	h.addSBCDisk(6, 64<<10)
	h.tgt.LUNsChanged()
	r, err := s.Execute(ctx, 5, []byte{0, 0, 0, 0, 0, 0}, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	sense, _ := scsi.ParseSense(r.Sense)
	if sense == nil || sense.ASC != 0x3F || sense.ASCQ != 0x0E {
		t.Fatalf("want REPORTED LUNS DATA HAS CHANGED, got %v", sense)
	}
	r, err = s.Execute(ctx, 6, []byte{0x12, 0, 0, 0, 96, 0}, nil, 96)
	if err != nil || r.Status != 0 || r.Data[0] != 0 {
		t.Errorf("new LUN: %v %+v", err, r)
	}
}

func TestDiscovery(t *testing.T) {
	h := start(t, nil)
	ts, err := initiator.Discover(testCtx(t), h.addr, initiator.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != 1 || ts[0].Name != testIQN || len(ts[0].Addresses) != 1 || ts[0].Addresses[0] != h.addr+",1" {
		t.Errorf("SendTargets = %+v", ts)
	}
}

func TestLoginRefusals(t *testing.T) {
	secret := []byte("0123456789abcdef")
	tsecret := []byte("fedcba9876543210")
	h := start(t, func(c *Config) {
		c.ACL = []Initiator{{Name: "iqn.2026-01.dev.ferry:chap", Secret: secret, TargetSecret: tsecret}}
	})
	ctx := testCtx(t)
	var le *initiator.LoginError
	_, err := initiator.Dial(ctx, h.addr, initiator.Config{TargetName: "iqn.2026-01.dev.ferry:other"})
	if !errors.As(err, &le) || le.Detail != 0x03 {
		t.Errorf("unknown target: %v", err)
	}
	chapName := "iqn.2026-01.dev.ferry:chap"
	_, err = initiator.Dial(ctx, h.addr, initiator.Config{TargetName: testIQN, InitiatorName: chapName})
	if !errors.As(err, &le) || le.Detail != 0x01 {
		t.Errorf("no CHAP: %v", err)
	}
	_, err = initiator.Dial(ctx, h.addr, initiator.Config{TargetName: testIQN, InitiatorName: chapName,
		CHAP: &initiator.CHAP{Secret: []byte("wrong secret 1234")}})
	if !errors.As(err, &le) || le.Detail != 0x01 {
		t.Errorf("wrong secret: %v", err)
	}
	_, err = initiator.Dial(ctx, h.addr, initiator.Config{TargetName: testIQN, InitiatorName: chapName,
		CHAP: &initiator.CHAP{Secret: secret, TargetSecret: []byte("not the target's")}})
	if !errors.Is(err, initiator.ErrTargetAuth) {
		t.Errorf("target's wrong mutual secret: %v", err)
	}
	s := h.dial(initiator.Config{InitiatorName: chapName, CHAP: &initiator.CHAP{Secret: secret, TargetSecret: tsecret}})
	if err := s.Ping(ctx, nil); err != nil {
		t.Errorf("mutual CHAP session: %v", err)
	}
}

func TestACLOnNonLoopbackPortal(t *testing.T) {
	h := start(t, func(c *Config) {
		c.ACL = []Initiator{{Name: "iqn.2026-01.dev.ferry:allowed"}}
	})
	h.tgt.nonLoop.Store(true) // as if a portal listened on a routable address
	ctx := testCtx(t)
	var le *initiator.LoginError
	_, err := initiator.Dial(ctx, h.addr, initiator.Config{TargetName: testIQN, InitiatorName: "iqn.2026-01.dev.ferry:stranger"})
	if !errors.As(err, &le) || le.Detail != 0x02 {
		t.Errorf("stranger: %v", err)
	}
	_, err = initiator.Discover(ctx, h.addr, initiator.Config{InitiatorName: "iqn.2026-01.dev.ferry:stranger"})
	if !errors.As(err, &le) {
		t.Errorf("stranger discovery: %v", err)
	}
	h.dial(initiator.Config{InitiatorName: "iqn.2026-01.dev.ferry:allowed"})
	// On the wire: the refusal carries no keys, and the connection ends.
	c := h.raw()
	p := loginAs(c, "iqn.2026-01.dev.ferry:stranger")
	lr := iscsi.DecodeLoginResp(&p.BHS)
	if lr.StatusClass != iscsi.LoginInitiatorErr || lr.StatusDetail != 0x02 || len(p.Data) != 0 || lr.TSIH != 0 {
		t.Errorf("refusal: %+v with %q", lr, p.Data)
	}
	var q iscsi.PDU
	if err := c.r.Read(&q); err == nil {
		t.Errorf("connection open after a refusal: %v", q.BHS.Opcode())
	}
}

// loginAs sends a leading login request for a normal session.
func loginAs(c *rawConn, name string) iscsi.PDU {
	var h iscsi.BHS
	(&iscsi.LoginReq{Transit: true, CSG: iscsi.StageSecurity, NSG: iscsi.StageOperational,
		ISID: [6]byte{0x80, 0, 0, 0, 0, 9}, CmdSN: 1}).Encode(&h)
	c.send(&h, iscsi.AppendText(nil, iscsi.KV{Key: "InitiatorName", Value: name},
		iscsi.KV{Key: "TargetName", Value: testIQN}, iscsi.KV{Key: "AuthMethod", Value: "None"}))
	return c.recv()
}
