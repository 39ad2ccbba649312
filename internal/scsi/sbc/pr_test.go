package sbc

import (
	"context"
	"encoding/binary"
	"errors"
	"testing"

	"ferry/internal/disk"
	"ferry/internal/scsi"
	"ferry/internal/scsi/scsitest"
)

// Two I_T nexuses, as the iSCSI target names them.
const (
	nexusA = "iqn.2026-11.test:a,i,0x400000000001"
	nexusB = "iqn.2026-11.test:b,i,0x400000000002"
)

// as runs a command over one nexus.
func as(dev scsi.Device, nexus string, cdb, out []byte) (*scsi.Command, error) {
	cmd := &scsi.Command{CDB: cdb, DataOut: out, Initiator: nexus}
	return cmd, dev.Execute(context.Background(), cmd)
}

// prOutCmd runs PERSISTENT RESERVE OUT.
func prOutCmd(dev scsi.Device, nexus string, sa, typ byte, key, sark uint64) error {
	p := make([]byte, 24)
	binary.BigEndian.PutUint64(p, key)
	binary.BigEndian.PutUint64(p[8:], sark)
	_, err := as(dev, nexus, []byte{0x5F, sa, typ, 0, 0, 0, 0, 0, 24, 0}, p)
	return err
}

// mustPR fails the test unless PERSISTENT RESERVE OUT is GOOD.
func mustPR(t *testing.T, dev scsi.Device, nexus string, sa, typ byte, key, sark uint64) {
	t.Helper()
	if err := prOutCmd(dev, nexus, sa, typ, key, sark); err != nil {
		t.Fatalf("PR OUT sa %d type %d key %x sark %x by %s: %v", sa, typ, key, sark, nexus, err)
	}
}

// isConflict reports whether err is RESERVATION CONFLICT.
func isConflict(err error) bool { return errors.Is(err, scsi.ErrReservationConflict) }

// canRead and canWrite try READ(10) and WRITE(10) of block 1.
func canRead(dev scsi.Device, nexus string) error {
	_, err := as(dev, nexus, cdb10(0x28, 0, 1, 1), nil)
	return err
}

func canWrite(dev scsi.Device, nexus string) error {
	_, err := as(dev, nexus, cdb10(0x2A, 0, 1, 1), make([]byte, 512))
	return err
}

// TestPRAccessMatrix checks SPC-4 table 69 for every type: what a
// registered and an unregistered other nexus may read and write (the
// same matrix libiscsi's ProutReserve.Access tests).
func TestPRAccessMatrix(t *testing.T) {
	cases := []struct {
		name                               string
		typ                                byte
		regRead, regWrite, unRead, unWrite bool
	}{
		{"WE", prWriteExclusive, true, false, true, false},
		{"EA", prExclusiveAccess, false, false, false, false},
		{"WERO", prWriteExclusiveRO, true, true, true, false},
		{"EARO", prExclusiveAccessRO, true, true, false, false},
		{"WEAR", prWriteExclusiveAllReg, true, true, true, false},
		{"EAAR", prExclusiveAccessAll, true, true, false, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dev := newDevice(t)
			mustPR(t, dev, nexusA, saRegisterAndIgnore, 0, 0, 0xA)
			mustPR(t, dev, nexusB, saRegisterAndIgnore, 0, 0, 0xB)
			mustPR(t, dev, nexusA, saReserve, c.typ, 0xA, 0)
			if canRead(dev, nexusA) != nil || canWrite(dev, nexusA) != nil {
				t.Fatal("the holder cannot read or write")
			}
			check := func(what string, err error, allowed bool) {
				if allowed && err != nil || !allowed && !isConflict(err) {
					t.Errorf("%s: %v, want allowed=%v", what, err, allowed)
				}
			}
			check("registered read", canRead(dev, nexusB), c.regRead)
			check("registered write", canWrite(dev, nexusB), c.regWrite)
			mustPR(t, dev, nexusB, saRegister, 0, 0xB, 0)
			check("unregistered read", canRead(dev, nexusB), c.unRead)
			check("unregistered write", canWrite(dev, nexusB), c.unWrite)
			for _, cdb := range [][]byte{{0x12, 0, 0, 0, 36, 0}, {0, 0, 0, 0, 0, 0}, {0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0}, {0xA0, 0, 0, 0, 0, 0, 0, 0, 0, 16, 0, 0}} {
				if _, err := as(dev, nexusB, cdb, nil); err != nil {
					t.Errorf("%#02x from an unregistered nexus: %v", cdb[0], err)
				}
			}
			mustPR(t, dev, nexusA, saRelease, c.typ, 0xA, 0)
			if canWrite(dev, nexusB) != nil {
				t.Error("write refused after RELEASE")
			}
		})
	}
}

// readReservation returns the key and type READ RESERVATION reports.
func readReservation(t *testing.T, dev scsi.Device) (reserved bool, key uint64, typ byte) {
	t.Helper()
	b := scsitest.MustExec(t, dev, []byte{0x5E, 1, 0, 0, 0, 0, 0, 0, 255, 0}, nil)
	if binary.BigEndian.Uint32(b[4:]) == 0 {
		return false, 0, 0
	}
	return true, binary.BigEndian.Uint64(b[8:]), b[21] & 0x0F
}

// readKeys returns the generation and keys.
func readKeys(t *testing.T, dev scsi.Device) (uint32, []uint64) {
	t.Helper()
	b := scsitest.MustExec(t, dev, []byte{0x5E, 0, 0, 0, 0, 0, 0, 0, 255, 0}, nil)
	var keys []uint64
	for p := b[8:]; len(p) >= 8; p = p[8:] {
		keys = append(keys, binary.BigEndian.Uint64(p))
	}
	return binary.BigEndian.Uint32(b), keys
}

func TestPRRegisterReserveRelease(t *testing.T) {
	dev := newDevice(t)
	if err := prOutCmd(dev, nexusA, saRegister, 0, 5, 0xA); !isConflict(err) {
		t.Fatalf("REGISTER with a key while unregistered: %v", err)
	}
	mustPR(t, dev, nexusA, saRegister, 0, 0, 0xA)
	if err := prOutCmd(dev, nexusA, saRegister, 0, 0xB, 0xC); !isConflict(err) {
		t.Fatalf("REGISTER with the wrong key: %v", err)
	}
	mustPR(t, dev, nexusA, saRegister, 0, 0xA, 0xAA) // change the key
	mustPR(t, dev, nexusB, saRegisterAndIgnore, 0, 0x1234, 0xB)
	gen, keys := readKeys(t, dev)
	if gen != 3 || len(keys) != 2 || keys[0] != 0xAA || keys[1] != 0xB {
		t.Fatalf("READ KEYS: gen %d keys %x", gen, keys)
	}
	if err := prOutCmd(dev, nexusA, saReserve, prWriteExclusive, 0xA, 0); !isConflict(err) {
		t.Fatalf("RESERVE with a stale key: %v", err)
	}
	if err := prOutCmd(dev, nexusA, saReserve, 0x2, 0xAA, 0); err == nil {
		t.Fatal("RESERVE of type 2 accepted")
	}
	mustPR(t, dev, nexusA, saReserve, prExclusiveAccess, 0xAA, 0)
	mustPR(t, dev, nexusA, saReserve, prExclusiveAccess, 0xAA, 0) // again: GOOD
	if err := prOutCmd(dev, nexusB, saReserve, prExclusiveAccess, 0xB, 0); !isConflict(err) {
		t.Fatalf("RESERVE over another's reservation: %v", err)
	}
	if ok, key, typ := readReservation(t, dev); !ok || key != 0xAA || typ != prExclusiveAccess {
		t.Fatalf("READ RESERVATION: %v %x %d", ok, key, typ)
	}
	_, err := as(dev, nexusA, []byte{0x5F, saRelease, prWriteExclusive, 0, 0, 0, 0, 0, 24, 0}, prParams(0xAA, 0))
	scsitest.WantSense(t, err, scsi.IllegalRequest, 0x26, 0x04)
	mustPR(t, dev, nexusB, saRelease, prExclusiveAccess, 0xB, 0) // not the holder: GOOD, nothing
	if ok, _, _ := readReservation(t, dev); !ok {
		t.Fatal("a non-holder's RELEASE released")
	}
	// Unregistering the holder releases a non-all-registrants reservation.
	mustPR(t, dev, nexusA, saRegister, 0, 0xAA, 0)
	if ok, _, _ := readReservation(t, dev); ok {
		t.Fatal("reservation survives its holder's unregistration")
	}
	// An all-registrants reservation survives while a registrant is left.
	mustPR(t, dev, nexusA, saRegisterAndIgnore, 0, 0, 0xA)
	mustPR(t, dev, nexusA, saReserve, prWriteExclusiveAllReg, 0xA, 0)
	if ok, key, _ := readReservation(t, dev); !ok || key != 0 {
		t.Fatalf("all-registrants READ RESERVATION key %x, want 0", key)
	}
	mustPR(t, dev, nexusA, saRegister, 0, 0xA, 0)
	if ok, _, _ := readReservation(t, dev); !ok {
		t.Fatal("all-registrants reservation lost with a registrant left")
	}
	mustPR(t, dev, nexusB, saRelease, prWriteExclusiveAllReg, 0xB, 0)
	mustPR(t, dev, nexusB, saClear, 0, 0xB, 0)
	if _, keys := readKeys(t, dev); len(keys) != 0 {
		t.Fatalf("keys after CLEAR: %x", keys)
	}
}

// prParams is a PERSISTENT RESERVE OUT parameter list.
func prParams(key, sark uint64) []byte {
	p := make([]byte, 24)
	binary.BigEndian.PutUint64(p, key)
	binary.BigEndian.PutUint64(p[8:], sark)
	return p
}

func TestPRPreempt(t *testing.T) {
	dev := newDevice(t)
	mustPR(t, dev, nexusA, saRegisterAndIgnore, 0, 0, 0xA)
	mustPR(t, dev, nexusB, saRegisterAndIgnore, 0, 0, 0xB)
	gen, _ := readKeys(t, dev)
	// No reservation: PREEMPT removes the registrations of the key.
	mustPR(t, dev, nexusB, saPreempt, prExclusiveAccess, 0xB, 0xA)
	gen2, keys := readKeys(t, dev)
	if gen2 != gen+1 || len(keys) != 1 || keys[0] != 0xB {
		t.Fatalf("after PREEMPT: gen %d->%d keys %x", gen, gen2, keys)
	}
	if err := prOutCmd(dev, nexusB, saPreempt, prExclusiveAccess, 0xB, 0xA); !isConflict(err) {
		t.Fatalf("PREEMPT of a key nobody has: %v", err)
	}
	// Preempting the holder takes the reservation over.
	mustPR(t, dev, nexusA, saRegisterAndIgnore, 0, 0, 0xA)
	mustPR(t, dev, nexusA, saReserve, prWriteExclusive, 0xA, 0)
	mustPR(t, dev, nexusB, saPreemptAndAbort, prExclusiveAccess, 0xB, 0xA)
	if ok, key, typ := readReservation(t, dev); !ok || key != 0xB || typ != prExclusiveAccess {
		t.Fatalf("after PREEMPT AND ABORT: %v %x %d", ok, key, typ)
	}
	if !isConflict(canRead(dev, nexusA)) {
		t.Fatal("the preempted nexus may still read under EXCLUSIVE ACCESS")
	}
}

func TestPRReportAndFullStatus(t *testing.T) {
	dev := newDevice(t)
	caps := scsitest.MustExec(t, dev, []byte{0x5E, 2, 0, 0, 0, 0, 0, 0, 255, 0}, nil)
	if len(caps) != 8 || binary.BigEndian.Uint16(caps) != 8 || caps[2] != 0x11 || caps[3] != 0x80 || caps[4] != 0xEA || caps[5] != 0x01 {
		t.Fatalf("REPORT CAPABILITIES: % x", caps)
	}
	mustPR(t, dev, nexusA, saRegisterAndIgnore, 0, 0, 0xA)
	mustPR(t, dev, nexusA, saReserve, prWriteExclusive, 0xA, 0)
	fs := scsitest.MustExec(t, dev, []byte{0x5E, 3, 0, 0, 0, 0, 0, 0x10, 0, 0}, nil)
	if int(binary.BigEndian.Uint32(fs[4:]))+8 != len(fs) || binary.BigEndian.Uint64(fs[8:]) != 0xA || fs[8+12]&1 != 1 || fs[8+13] != prWriteExclusive {
		t.Fatalf("READ FULL STATUS: % x", fs)
	}
	tid := fs[8+24:]
	if tid[0] != 0x45 || string(tid[4:4+len(nexusA)]) != nexusA || len(tid)%4 != 0 {
		t.Fatalf("TransportID % x", tid)
	}
	p := prParams(0xA, 0)
	p[20] = 0x04 // ALL_TG_PT
	_, err := as(dev, nexusA, []byte{0x5F, saRegister, 0, 0, 0, 0, 0, 0, 24, 0}, p)
	scsitest.WantSense(t, err, scsi.IllegalRequest, 0x26, 0)
}

// memBackend hides the disk's ReservationStore: a backend that cannot
// persist.
type memBackend struct{ Backend }

func TestPRAPTPL(t *testing.T) {
	dk, dir := newDisk(t, disk.Options{})
	noStore := New(memBackend{dk}, Identity{})
	p := prParams(0, 0xA)
	p[20] = 0x01 // APTPL
	_, err := as(noStore, nexusA, []byte{0x5F, saRegister, 0, 0, 0, 0, 0, 0, 24, 0}, p)
	scsitest.WantField(t, scsitest.WantSense(t, err, scsi.IllegalRequest, 0x26, 0), false, 20, 0)

	dev := New(dk, Identity{})
	if caps := scsitest.MustExec(t, dev, []byte{0x5E, 2, 0, 0, 0, 0, 0, 0, 8, 0}, nil); caps[2]&1 != 1 || caps[3]&1 != 0 {
		t.Fatalf("REPORT CAPABILITIES before APTPL: % x", caps)
	}
	if _, err := as(dev, nexusA, []byte{0x5F, saRegister, 0, 0, 0, 0, 0, 0, 24, 0}, p); err != nil {
		t.Fatal(err)
	}
	mustPR(t, dev, nexusB, saRegisterAndIgnore, 0, 0, 0xB) // APTPL 0 here: persistence off again
	if b, _ := dk.LoadReservations(); b != nil {
		t.Fatalf("saved without APTPL: %s", b)
	}
	p = prParams(0xB, 0xBB)
	p[20] = 0x01
	if _, err := as(dev, nexusB, []byte{0x5F, saRegister, 0, 0, 0, 0, 0, 0, 24, 0}, p); err != nil {
		t.Fatal(err)
	}
	mustPR(t, dev, nexusA, saReserve, prExclusiveAccess, 0xA, 0)
	if caps := scsitest.MustExec(t, dev, []byte{0x5E, 2, 0, 0, 0, 0, 0, 0, 8, 0}, nil); caps[3]&1 != 1 {
		t.Fatalf("REPORT CAPABILITIES: PTPL_A clear: % x", caps)
	}
	gen, keys := readKeys(t, dev)

	// A restart: a new device over the disk opened again.
	dk2, err := disk.Open(dir, "lun1")
	if err != nil {
		t.Fatal(err)
	}
	defer dk2.Close()
	again := New(dk2, Identity{})
	gen2, keys2 := readKeys(t, again)
	if gen2 != gen || len(keys2) != 2 || keys2[0] != keys[0] || keys2[1] != keys[1] {
		t.Fatalf("after restart: gen %d keys %x, want %d %x", gen2, keys2, gen, keys)
	}
	if ok, key, typ := readReservation(t, again); !ok || key != 0xA || typ != prExclusiveAccess {
		t.Fatalf("reservation after restart: %v %x %d", ok, key, typ)
	}
	if !isConflict(canRead(again, nexusB)) {
		t.Fatal("restored EXCLUSIVE ACCESS lets another nexus read")
	}
}

func FuzzDecodeSaved(f *testing.F) {
	f.Add([]byte(`{"version":1,"generation":3,"registrations":[{"nexus":"a","key":10}],"type":3,"holder":"a"}`))
	f.Add([]byte(`{"version":1,"registrations":[{"nexus":"a","key":10},{"nexus":"a","key":11}]}`))
	f.Add([]byte(`{"version":1,"registrations":[],"type":7}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeSaved(b)
		if err != nil {
			return
		}
		// What decodes is consistent and encodes back to itself.
		if r.typ != 0 && !allRegistrants(r.typ) && !r.holds(r.holder) {
			t.Fatalf("holder %q not registered", r.holder)
		}
		enc, err := r.encode()
		if err != nil {
			t.Fatal(err)
		}
		r2, err := decodeSaved(enc)
		if err != nil || r2.gen != r.gen || r2.typ != r.typ || r2.holder != r.holder || len(r2.regs) != len(r.regs) {
			t.Fatalf("re-decode of %s: %+v %v", enc, r2, err)
		}
	})
}

func TestReserve6(t *testing.T) {
	dev := newDevice(t)
	reserve := []byte{0x16, 0, 0, 0, 0, 0}
	release := []byte{0x17, 0, 0, 0, 0, 0}
	must := func(nexus string, cdb []byte) {
		t.Helper()
		if _, err := as(dev, nexus, cdb, nil); err != nil {
			t.Fatalf("%s % x: %v", nexus, cdb, err)
		}
	}
	must(nexusA, reserve)
	must(nexusA, reserve) // the holder again
	if _, err := as(dev, nexusB, reserve, nil); !isConflict(err) {
		t.Fatalf("second RESERVE(6): %v", err)
	}
	must(nexusB, release) // not the holder: a no-op
	if _, err := as(dev, nexusB, []byte{0x1A, 0, 0x3F, 0, 255, 0}, nil); !isConflict(err) {
		t.Fatalf("MODE SENSE under another's reservation: %v", err)
	}
	must(nexusB, []byte{0x12, 0, 0, 0, 36, 0})
	must(nexusA, []byte{0x1A, 0, 0x3F, 0, 255, 0})
	must(nexusA, release)
	must(nexusB, []byte{0x56, 0, 0, 0, 0, 0, 0, 0, 0, 0}) // RESERVE(10)
	dev.NexusLost(nexusA)                                 // not the holder: nothing
	if canRead(dev, nexusA) == nil {
		t.Fatal("reservation lost when another nexus went")
	}
	dev.NexusLost(nexusB)
	must(nexusA, reserve)
	dev.swp.Store(true)
	dev.Reset()
	must(nexusB, reserve)
	if dev.swp.Load() {
		t.Fatal("SWP survives a reset")
	}
	// Registrations make RESERVE(6) conflict.
	dev.Reset()
	mustPR(t, dev, nexusA, saRegisterAndIgnore, 0, 0, 0xA)
	if _, err := as(dev, nexusB, reserve, nil); !isConflict(err) {
		t.Fatalf("RESERVE(6) beside registrations: %v", err)
	}
}
