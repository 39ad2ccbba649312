package sbc

import (
	"context"

	"ferry/internal/scsi"
)

// Usage masks for REPORT SUPPORTED OPERATION CODES, byte by byte after
// the operation code: which bits of the CDB the device looks at.
const (
	lba4 = "\xFF\xFF\xFF\xFF"
	lba8 = lba4 + lba4
	len2 = "\xFF\xFF"
	len4 = lba4
)

// usage builds CDB usage data: the opcode, then the parts in order.
func usage(op byte, parts ...string) []byte {
	u := []byte{op}
	for _, p := range parts {
		u = append(u, p...)
	}
	return u
}

// b is a usage part of literal bytes.
func b(v ...byte) string { return string(v) }

// register adds the SBC commands to the table.
func (d *Device) register() {
	d.registerIO()
	d.registerProvisioning()
	d.registerControl()
	d.registerReservations()
}

// registerIO adds the reads, writes and verifies.
func (d *Device) registerIO() {
	t := d.table
	t.Register(OpRead6, scsi.Op{Name: "READ(6)", Usage: usage(OpRead6, b(0x1F), b(0xFF, 0xFF, 0xFF), b(0)), Run: d.read})
	t.Register(OpRead10, scsi.Op{Name: "READ(10)", Usage: usage(OpRead10, b(0x18), lba4, b(0), len2, b(0)), Run: d.read})
	t.Register(OpRead12, scsi.Op{Name: "READ(12)", Usage: usage(OpRead12, b(0x18), lba4, len4, b(0, 0)), Run: d.read})
	t.Register(OpRead16, scsi.Op{Name: "READ(16)", Usage: usage(OpRead16, b(0x18), lba8, len4, b(0, 0)), Run: d.read})
	t.Register(OpWrite6, scsi.Op{Name: "WRITE(6)", Usage: usage(OpWrite6, b(0x1F), b(0xFF, 0xFF, 0xFF), b(0)), Run: d.write})
	t.Register(OpWrite10, scsi.Op{Name: "WRITE(10)", Usage: usage(OpWrite10, b(0x18), lba4, b(0), len2, b(0)), Run: d.write})
	t.Register(OpWrite12, scsi.Op{Name: "WRITE(12)", Usage: usage(OpWrite12, b(0x18), lba4, len4, b(0, 0)), Run: d.write})
	t.Register(OpWrite16, scsi.Op{Name: "WRITE(16)", Usage: usage(OpWrite16, b(0x18), lba8, len4, b(0, 0)), Run: d.write})
	t.Register(OpVerify10, scsi.Op{Name: "VERIFY(10)", Usage: usage(OpVerify10, b(0x16), lba4, b(0), len2, b(0)), Run: d.verify})
	t.Register(OpVerify12, scsi.Op{Name: "VERIFY(12)", Usage: usage(OpVerify12, b(0x16), lba4, len4, b(0, 0)), Run: d.verify})
	t.Register(OpVerify16, scsi.Op{Name: "VERIFY(16)", Usage: usage(OpVerify16, b(0x16), lba8, len4, b(0, 0)), Run: d.verify})
	t.Register(OpWriteAndVerify10, scsi.Op{Name: "WRITE AND VERIFY(10)", Usage: usage(OpWriteAndVerify10, b(0x12), lba4, b(0), len2, b(0)), Run: d.writeAndVerify})
	t.Register(OpWriteAndVerify12, scsi.Op{Name: "WRITE AND VERIFY(12)", Usage: usage(OpWriteAndVerify12, b(0x12), lba4, len4, b(0, 0)), Run: d.writeAndVerify})
	t.Register(OpWriteAndVerify16, scsi.Op{Name: "WRITE AND VERIFY(16)", Usage: usage(OpWriteAndVerify16, b(0x12), lba8, len4, b(0, 0)), Run: d.writeAndVerify})
	t.Register(OpORWrite16, scsi.Op{Name: "ORWRITE(16)", Usage: usage(OpORWrite16, b(0x18), lba8, len4, b(0, 0)), Run: d.orWrite})
	t.Register(OpCompareAndWrite, scsi.Op{Name: "COMPARE AND WRITE", Usage: usage(OpCompareAndWrite, b(0x18), lba8, b(0, 0, 0, 0xFF, 0, 0)), Run: d.compareAndWrite})
	t.Register(OpSynchronizeCache10, scsi.Op{Name: "SYNCHRONIZE CACHE(10)", Usage: usage(OpSynchronizeCache10, b(0), lba4, b(0), len2, b(0)), Run: d.synchronizeCache})
	t.Register(OpSynchronizeCache16, scsi.Op{Name: "SYNCHRONIZE CACHE(16)", Usage: usage(OpSynchronizeCache16, b(0), lba8, len4, b(0, 0)), Run: d.synchronizeCache})
	t.Register(OpPreFetch10, scsi.Op{Name: "PRE-FETCH(10)", Usage: usage(OpPreFetch10, b(0), lba4, b(0), len2, b(0)), Run: d.preFetch})
	t.Register(OpPreFetch16, scsi.Op{Name: "PRE-FETCH(16)", Usage: usage(OpPreFetch16, b(0), lba8, len4, b(0, 0)), Run: d.preFetch})
}

// registerProvisioning adds WRITE SAME, UNMAP (thin disks only), GET
// LBA STATUS and READ CAPACITY.
func (d *Device) registerProvisioning() {
	t := d.table
	ws := byte(0)
	if d.b.Thin() {
		ws = bitUnmap
		t.Register(OpUnmap, scsi.Op{Name: "UNMAP", Usage: usage(OpUnmap, b(0, 0, 0, 0, 0, 0), len2, b(0)), Run: d.unmap})
		t.RegisterServiceAction(OpSanitize, saBlockErase, scsi.Op{Name: "SANITIZE / BLOCK ERASE", Len: 10,
			Usage: usage(OpSanitize, b(0xA0|saBlockErase, 0, 0, 0, 0, 0), len2, b(0)), Run: d.sanitizeBlockErase})
	}
	t.Register(OpWriteSame10, scsi.Op{Name: "WRITE SAME(10)", Usage: usage(OpWriteSame10, b(ws), lba4, b(0), len2, b(0)), Run: d.writeSame})
	t.Register(OpWriteSame16, scsi.Op{Name: "WRITE SAME(16)", Usage: usage(OpWriteSame16, b(ws|bitNDOB|bitFUA), lba8, len4, b(0, 0)), Run: d.writeSame})
	t.Register(OpReadDefectData10, scsi.Op{Name: "READ DEFECT DATA(10)", Alloc: scsi.Alloc10, Usage: usage(OpReadDefectData10, b(0, 0x1F, 0, 0, 0, 0), len2, b(0)), Run: d.readDefectData})
	t.Register(OpReadDefectData12, scsi.Op{Name: "READ DEFECT DATA(12)", Alloc: scsi.Alloc12, Usage: usage(OpReadDefectData12, b(0x1F), b(0, 0, 0, 0), len4, b(0, 0)), Run: d.readDefectData})
	t.Register(OpReadCapacity10, scsi.Op{Name: "READ CAPACITY(10)", Usage: usage(OpReadCapacity10, b(0), lba4, b(0, 0, 0x01, 0)), Run: d.readCapacity10})
	t.RegisterServiceAction(scsi.OpServiceActionIn, saReadCapacity16, scsi.Op{Name: "READ CAPACITY(16)", Alloc: scsi.Alloc16,
		Usage: usage(scsi.OpServiceActionIn, b(saReadCapacity16), b(0, 0, 0, 0, 0, 0, 0, 0), len4, b(0, 0)), Run: d.readCapacity16})
	t.RegisterServiceAction(scsi.OpServiceActionIn, saGetLBAStatus, scsi.Op{Name: "GET LBA STATUS", Alloc: scsi.Alloc16,
		Usage: usage(scsi.OpServiceActionIn, b(saGetLBAStatus), lba8, len4, b(0, 0)), Run: d.getLBAStatus})
}

// registerControl adds MODE SENSE/SELECT, START STOP UNIT and PREVENT
// ALLOW MEDIUM REMOVAL.
func (d *Device) registerControl() {
	t := d.table
	t.Register(scsi.OpModeSense6, scsi.Op{Name: "MODE SENSE(6)", Alloc: scsi.Alloc6, Usage: usage(scsi.OpModeSense6, b(0x08, 0xFF, 0xFF, 0xFF, 0)), Run: d.modeSense6})
	t.Register(scsi.OpModeSense10, scsi.Op{Name: "MODE SENSE(10)", Alloc: scsi.Alloc10, Usage: usage(scsi.OpModeSense10, b(0x18, 0xFF, 0xFF, 0, 0, 0), len2, b(0)), Run: d.modeSense10})
	t.Register(scsi.OpModeSelect6, scsi.Op{Name: "MODE SELECT(6)", Usage: usage(scsi.OpModeSelect6, b(0x11, 0, 0, 0xFF, 0)), Run: d.modeSelect6})
	t.Register(scsi.OpModeSelect10, scsi.Op{Name: "MODE SELECT(10)", Usage: usage(scsi.OpModeSelect10, b(0x11, 0, 0, 0, 0, 0), len2, b(0)), Run: d.modeSelect10})
	t.Register(OpStartStopUnit, scsi.Op{Name: "START STOP UNIT", Usage: usage(OpStartStopUnit, b(0, 0, 0, 0, 0)), Run: nop})
	t.Register(scsi.OpPreventAllow, scsi.Op{Name: "PREVENT ALLOW MEDIUM REMOVAL", Usage: usage(scsi.OpPreventAllow, b(0, 0, 0, 0, 0)), Run: nop})
}

// nop is GOOD: a fixed disk has no medium to start, stop or lock.
func nop(context.Context, *scsi.Command) error { return nil }

// registerReservations adds RESERVE/RELEASE and the persistent
// reservation service actions.
func (d *Device) registerReservations() {
	t := d.table
	t.Register(OpReserve6, scsi.Op{Name: "RESERVE(6)", Usage: usage(OpReserve6, b(0, 0, 0, 0, 0)), Run: d.reserve6})
	t.Register(OpRelease6, scsi.Op{Name: "RELEASE(6)", Usage: usage(OpRelease6, b(0, 0, 0, 0, 0)), Run: d.release6})
	t.Register(OpReserve10, scsi.Op{Name: "RESERVE(10)", Usage: usage(OpReserve10, b(0x12, 0, 0, 0, 0, 0, 0, 0, 0)), Run: d.reserve6})
	t.Register(OpRelease10, scsi.Op{Name: "RELEASE(10)", Usage: usage(OpRelease10, b(0x12, 0, 0, 0, 0, 0, 0, 0, 0)), Run: d.release6})
	in := []struct {
		sa   uint16
		name string
		run  scsi.Handler
	}{
		{saReadKeys, "PERSISTENT RESERVE IN / READ KEYS", d.readKeys},
		{saReadReservation, "PERSISTENT RESERVE IN / READ RESERVATION", d.readReservation},
		{saReportCaps, "PERSISTENT RESERVE IN / REPORT CAPABILITIES", d.reportCapabilities},
		{saReadFullStatus, "PERSISTENT RESERVE IN / READ FULL STATUS", d.readFullStatus},
	}
	for _, s := range in {
		t.RegisterServiceAction(OpPersistentResIn, s.sa, scsi.Op{Name: s.name, Alloc: scsi.Alloc10,
			Usage: usage(OpPersistentResIn, b(byte(s.sa), 0, 0, 0, 0, 0), len2, b(0)), Run: s.run})
	}
	out := []struct {
		sa   byte
		name string
	}{
		{saRegister, "REGISTER"}, {saReserve, "RESERVE"}, {saRelease, "RELEASE"}, {saClear, "CLEAR"},
		{saPreempt, "PREEMPT"}, {saPreemptAndAbort, "PREEMPT AND ABORT"}, {saRegisterAndIgnore, "REGISTER AND IGNORE EXISTING KEY"},
	}
	for _, s := range out {
		t.RegisterServiceAction(OpPersistentResOut, uint16(s.sa), scsi.Op{Name: "PERSISTENT RESERVE OUT / " + s.name,
			Usage: usage(OpPersistentResOut, b(s.sa, 0xFF, 0, 0), len4, b(0)), Run: d.persistentReserveOut(s.sa)})
	}
}
