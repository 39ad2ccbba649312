package sbc

import (
	"context"
	"sync"
	"sync/atomic"

	"ferry/internal/scsi"
)

// Persistent reservation types (SPC-4 table 187).
const (
	prWriteExclusive       = 0x1
	prExclusiveAccess      = 0x3
	prWriteExclusiveRO     = 0x5
	prExclusiveAccessRO    = 0x6
	prWriteExclusiveAllReg = 0x7
	prExclusiveAccessAll   = 0x8
)

// validType reports whether t is a reservation type ferry supports (all
// of them).
func validType(t byte) bool {
	switch t {
	case prWriteExclusive, prExclusiveAccess, prWriteExclusiveRO, prExclusiveAccessRO, prWriteExclusiveAllReg, prExclusiveAccessAll:
		return true
	}
	return false
}

// allRegistrants reports whether every registrant holds a reservation of
// type t.
func allRegistrants(t byte) bool { return t == prWriteExclusiveAllReg || t == prExclusiveAccessAll }

// registration is one registered I_T nexus and its key.
type registration struct {
	nexus string
	key   uint64
}

// reservations is a disk's reservation state: the SPC-2 RESERVE/RELEASE
// reservation and the persistent reservation with its registrations,
// saved through the backend's ReservationStore while APTPL is in effect.
type reservations struct {
	active atomic.Bool // any reservation in effect: the fast path skips the lock

	mu     sync.Mutex
	gen    uint32
	regs   []registration // in registration order, for READ KEYS
	typ    byte           // persistent reservation type, 0 for none
	holder string         // its holder (unused for all-registrants types)
	legacy *string        // RESERVE(6)/(10) holder

	store ReservationStore // where APTPL state goes; nil: APTPL refused
	aptpl bool             // the last REGISTER asked for persistence
}

// Command classes for reservation conflicts.
const (
	classAllowed = iota // never in conflict (SPC-4 table 69 "allowed")
	classRead           // reads the medium or reports about it
	classWrite          // changes the medium or the LU's state
)

// classify sorts a CDB for the conflict rules.
func classify(cdb []byte) int {
	switch scsi.Opcode(cdb) {
	case scsi.OpInquiry, scsi.OpReportLUNs, scsi.OpRequestSense, scsi.OpTestUnitReady,
		scsi.OpMaintenanceIn, OpPersistentResIn, OpPersistentResOut, OpReadCapacity10:
		return classAllowed
	case scsi.OpServiceActionIn:
		if scsi.ServiceAction(cdb) == saReadCapacity16 {
			return classAllowed
		}
		return classRead
	case OpRead6, OpRead10, OpRead12, OpRead16, OpVerify10, OpVerify12, OpVerify16,
		OpPreFetch10, OpPreFetch16, scsi.OpModeSense6, scsi.OpModeSense10, OpReadDefectData10, OpReadDefectData12:
		return classRead
	}
	return classWrite
}

// check returns RESERVATION CONFLICT when the command's nexus may not
// run it under the reservations in effect.
func (r *reservations) check(cmd *scsi.Command) error {
	if !r.active.Load() {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.legacy != nil && *r.legacy != cmd.Initiator && !legacyAllowed(scsi.Opcode(cmd.CDB)) {
		return scsi.ErrReservationConflict
	}
	if r.typ == 0 || r.holds(cmd.Initiator) {
		return nil
	}
	_, registered := r.key(cmd.Initiator)
	switch classify(cmd.CDB) {
	case classAllowed:
		return nil
	case classRead:
		switch r.typ {
		case prWriteExclusive, prWriteExclusiveRO, prWriteExclusiveAllReg:
			return nil
		case prExclusiveAccessRO, prExclusiveAccessAll:
			if registered {
				return nil
			}
		}
	default:
		if registered && r.typ != prWriteExclusive && r.typ != prExclusiveAccess {
			return nil
		}
	}
	return scsi.ErrReservationConflict
}

// legacyAllowed lists what other nexuses may still do while a
// RESERVE(6)/(10) reservation is held.
func legacyAllowed(op byte) bool {
	switch op {
	case scsi.OpInquiry, scsi.OpReportLUNs, scsi.OpRequestSense, OpRelease6, OpRelease10:
		return true
	}
	return false
}

// holds reports whether nexus holds the persistent reservation.
func (r *reservations) holds(nexus string) bool {
	if r.typ == 0 {
		return false
	}
	if allRegistrants(r.typ) {
		_, ok := r.key(nexus)
		return ok
	}
	return r.holder == nexus
}

// key returns nexus's registered key.
func (r *reservations) key(nexus string) (uint64, bool) {
	for _, g := range r.regs {
		if g.nexus == nexus {
			return g.key, true
		}
	}
	return 0, false
}

// update sets the active flag from the state; called with mu held.
func (r *reservations) update() {
	r.active.Store(r.typ != 0 || r.legacy != nil)
}

// reset drops the RESERVE(6)/(10) reservation (logical unit reset).
func (r *reservations) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.legacy = nil
	r.update()
}

// nexusLost drops the RESERVE(6)/(10) reservation nexus held.
func (r *reservations) nexusLost(nexus string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.legacy != nil && *r.legacy == nexus {
		r.legacy = nil
	}
	r.update()
}

// reserve6 serves RESERVE(6) and RESERVE(10) (no third-party or
// extent reservations): the whole LU for the nexus, unless another
// nexus has it or persistent reservations are in use.
func (d *Device) reserve6(_ context.Context, cmd *scsi.Command) error {
	if cmd.CDB[0] == OpReserve10 && cmd.CDB[1]&0x12 != 0 {
		return scsi.InvalidFieldInCDB(1, 4) // 3RDPTY, LONGID
	}
	if cmd.CDB[0] == OpReserve6 && cmd.CDB[1]&0x01 != 0 {
		return scsi.InvalidFieldInCDB(1, 0) // extents are obsolete
	}
	r := &d.res
	r.mu.Lock()
	defer r.mu.Unlock()
	// SPC-3 5.6.1: RESERVE conflicts while persistent reservations are
	// in use (any registration), and with another nexus's reservation.
	if len(r.regs) > 0 || r.legacy != nil && *r.legacy != cmd.Initiator {
		return scsi.ErrReservationConflict
	}
	nexus := cmd.Initiator
	r.legacy = &nexus
	r.update()
	return nil
}

// release6 serves RELEASE(6) and RELEASE(10): the nexus's own
// reservation goes; releasing another's, or none, is GOOD and does
// nothing.
func (d *Device) release6(_ context.Context, cmd *scsi.Command) error {
	if cmd.CDB[0] == OpRelease10 && cmd.CDB[1]&0x12 != 0 {
		return scsi.InvalidFieldInCDB(1, 4)
	}
	r := &d.res
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.legacy != nil && *r.legacy == cmd.Initiator {
		r.legacy = nil
	}
	r.update()
	return nil
}
