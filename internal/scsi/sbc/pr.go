package sbc

import (
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"

	"ferry/internal/scsi"
)

// PERSISTENT RESERVE IN service actions.
const (
	saReadKeys          = 0x00
	saReadReservation   = 0x01
	saReportCaps        = 0x02
	saReadFullStatus    = 0x03
	saRegister          = 0x00
	saReserve           = 0x01
	saRelease           = 0x02
	saClear             = 0x03
	saPreempt           = 0x04
	saPreemptAndAbort   = 0x05
	saRegisterAndIgnore = 0x06
)

// prParamLen is the PERSISTENT RESERVE OUT parameter list length without
// SPEC_I_PT.
const prParamLen = 24

// readKeys serves PERSISTENT RESERVE IN / READ KEYS.
func (d *Device) readKeys(_ context.Context, cmd *scsi.Command) error {
	r := &d.res
	r.mu.Lock()
	defer r.mu.Unlock()
	b := make([]byte, 8, 8+8*len(r.regs))
	binary.BigEndian.PutUint32(b, r.gen)
	for _, g := range r.regs {
		b = binary.BigEndian.AppendUint64(b, g.key)
	}
	binary.BigEndian.PutUint32(b[4:], uint32(len(b)-8))
	cmd.DataIn = b
	return nil
}

// readReservation serves PERSISTENT RESERVE IN / READ RESERVATION; an
// all-registrants reservation reports key 0.
func (d *Device) readReservation(_ context.Context, cmd *scsi.Command) error {
	r := &d.res
	r.mu.Lock()
	defer r.mu.Unlock()
	b := make([]byte, 8, 24)
	binary.BigEndian.PutUint32(b, r.gen)
	if r.typ != 0 {
		var key uint64
		if !allRegistrants(r.typ) {
			key, _ = r.key(r.holder)
		}
		b = binary.BigEndian.AppendUint64(b, key)
		b = append(b, 0, 0, 0, 0, 0, r.typ, 0, 0)
		binary.BigEndian.PutUint32(b[4:], 16)
	}
	cmd.DataIn = b
	return nil
}

// reportCapabilities serves PERSISTENT RESERVE IN / REPORT CAPABILITIES:
// all six types, no SPEC_I_PT or ALL_TG_PT, APTPL when the backend can
// keep the state (PTPL_C) and whether it is in effect (PTPL_A); the type
// mask is valid (TMV) and ALLOW COMMANDS is 000b.
func (d *Device) reportCapabilities(_ context.Context, cmd *scsi.Command) error {
	r := &d.res
	r.mu.Lock()
	defer r.mu.Unlock()
	b := make([]byte, 8)
	b[1] = 8
	b[2] = 0x10 // CRH: RESERVE(6)/(10) conflict while registrations exist
	b[3] = 0x80 // TMV
	if r.store != nil {
		b[2] |= 0x01 // PTPL_C
	}
	if r.aptpl {
		b[3] |= 0x01 // PTPL_A
	}
	b[4] = 0x80 | 0x40 | 0x20 | 0x08 | 0x02
	b[5] = 0x01
	cmd.DataIn = b
	return nil
}

// readFullStatus serves PERSISTENT RESERVE IN / READ FULL STATUS: one
// descriptor per registration with its iSCSI TransportID.
func (d *Device) readFullStatus(_ context.Context, cmd *scsi.Command) error {
	r := &d.res
	r.mu.Lock()
	defer r.mu.Unlock()
	b := make([]byte, 8)
	binary.BigEndian.PutUint32(b, r.gen)
	for _, g := range r.regs {
		tid := transportID(g.nexus)
		desc := make([]byte, 24, 24+len(tid))
		binary.BigEndian.PutUint64(desc, g.key)
		if r.holds(g.nexus) {
			desc[12] = 0x01 // R_HOLDER
			desc[13] = r.typ
		}
		binary.BigEndian.PutUint32(desc[20:], uint32(len(tid)))
		b = append(b, append(desc, tid...)...)
	}
	binary.BigEndian.PutUint32(b[4:], uint32(len(b)-8))
	cmd.DataIn = b
	return nil
}

// transportID encodes an iSCSI TransportID (SPC-4 7.6.4.6): format 01b
// "NAME,i,0xISID" when the nexus carries an ISID, else format 00b; NUL
// terminated and padded to a multiple of four, at least 20 bytes of name.
func transportID(nexus string) []byte {
	format := byte(0x00)
	if strings.Contains(nexus, ",i,0x") {
		format = 0x40
	}
	n := max((len(nexus)+4)&^3, 20)
	b := make([]byte, 4+n)
	b[0] = format | 0x05 // iSCSI
	binary.BigEndian.PutUint16(b[2:], uint16(n))
	copy(b[4:], nexus)
	return b
}

// prOut is a decoded PERSISTENT RESERVE OUT command.
type prOut struct {
	sa        byte
	scope     byte
	typ       byte
	key, sark uint64
	nexus     string
	aptpl     bool
}

// persistentReserveOut checks the CDB and parameter list and runs the
// service action.
func (d *Device) persistentReserveOut(sa byte) scsi.Handler {
	return func(_ context.Context, cmd *scsi.Command) error {
		r := &d.res
		o, err := decodePROut(cmd, sa, r.store != nil)
		if err != nil {
			return err
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		defer r.update()
		if err := r.run(o); err != nil {
			return err
		}
		if sa == saRegister || sa == saRegisterAndIgnore {
			r.aptpl = o.aptpl
		}
		if err := r.persist(); err != nil {
			return fmt.Errorf("sbc: save reservations: %w", err)
		}
		return nil
	}
}

// decodePROut decodes the CDB and the 24-byte parameter list and refuses
// what ferry does not offer (SPEC_I_PT, ALL_TG_PT, and APTPL without a
// store).
func decodePROut(cmd *scsi.Command, sa byte, canPersist bool) (prOut, error) {
	cdb := cmd.CDB
	o := prOut{sa: sa, scope: cdb[2] >> 4, typ: cdb[2] & 0x0F, nexus: cmd.Initiator}
	if binary.BigEndian.Uint32(cdb[5:]) != prParamLen {
		return o, scsi.ParameterListLengthError()
	}
	p, err := scsi.ParameterList(cmd, prParamLen)
	if err != nil {
		return o, err
	}
	o.key, o.sark = binary.BigEndian.Uint64(p), binary.BigEndian.Uint64(p[8:])
	o.aptpl = p[20]&0x01 != 0
	switch {
	case p[20]&0x08 != 0:
		return o, scsi.InvalidFieldInParameterList(20, 3) // SPEC_I_PT
	case p[20]&0x04 != 0:
		return o, scsi.InvalidFieldInParameterList(20, 2) // ALL_TG_PT
	case o.aptpl && !canPersist:
		return o, scsi.InvalidFieldInParameterList(20, 0)
	}
	if sa == saReserve || sa == saRelease || sa == saPreempt || sa == saPreemptAndAbort {
		if o.scope != 0 {
			return o, scsi.InvalidFieldInCDB(2, 7)
		}
		if !validType(o.typ) {
			return o, scsi.InvalidFieldInCDB(2, 3)
		}
	}
	return o, nil
}

// run applies one PERSISTENT RESERVE OUT service action; mu is held.
func (r *reservations) run(o prOut) error {
	if o.sa == saRegister || o.sa == saRegisterAndIgnore {
		return r.register(o)
	}
	if k, ok := r.key(o.nexus); !ok || k != o.key {
		return scsi.ErrReservationConflict
	}
	switch o.sa {
	case saReserve:
		return r.reserve(o)
	case saRelease:
		return r.release(o)
	case saClear:
		r.regs, r.typ, r.holder = nil, 0, ""
		r.gen++
		return nil
	}
	return r.preempt(o)
}

// register serves REGISTER and REGISTER AND IGNORE EXISTING KEY.
func (r *reservations) register(o prOut) error {
	cur, ok := r.key(o.nexus)
	if o.sa == saRegister && (ok && cur != o.key || !ok && o.key != 0) {
		return scsi.ErrReservationConflict
	}
	switch {
	case !ok && o.sark == 0:
		return nil
	case !ok:
		r.regs = append(r.regs, registration{o.nexus, o.sark})
	case o.sark == 0:
		r.unregister(o.nexus)
	default:
		i := slices.IndexFunc(r.regs, func(g registration) bool { return g.nexus == o.nexus })
		r.regs[i].key = o.sark
	}
	r.gen++
	return nil
}

// unregister removes a nexus's registration and, when it held the
// reservation (or was the last of all registrants), the reservation.
func (r *reservations) unregister(nexus string) {
	holder := r.holds(nexus)
	r.regs = slices.DeleteFunc(r.regs, func(g registration) bool { return g.nexus == nexus })
	if holder && (!allRegistrants(r.typ) || len(r.regs) == 0) {
		r.typ, r.holder = 0, ""
	}
}

// reserve serves RESERVE: a new reservation, or GOOD when the nexus
// already holds one of the same type.
func (r *reservations) reserve(o prOut) error {
	if r.typ == 0 {
		r.typ, r.holder = o.typ, o.nexus
		return nil
	}
	if r.holds(o.nexus) && r.typ == o.typ {
		return nil
	}
	return scsi.ErrReservationConflict
}

// release serves RELEASE: only the holder releases, with the matching
// type; anyone else's RELEASE is GOOD and does nothing.
func (r *reservations) release(o prOut) error {
	if r.typ == 0 || !r.holds(o.nexus) {
		return nil
	}
	if r.typ != o.typ {
		return invalidRelease()
	}
	r.typ, r.holder = 0, ""
	return nil
}

// preempt serves PREEMPT and PREEMPT AND ABORT (ferry's disks keep no
// task queue for the abort to act on).
func (r *reservations) preempt(o prOut) error {
	switch {
	case r.typ != 0 && allRegistrants(r.typ) && o.sark == 0:
		r.regs = slices.DeleteFunc(r.regs, func(g registration) bool { return g.nexus != o.nexus })
		r.typ, r.holder = o.typ, o.nexus
	case r.typ != 0 && !allRegistrants(r.typ) && r.holderKey() == o.sark:
		r.removeKey(o.sark, o.nexus)
		r.typ, r.holder = o.typ, o.nexus
	case o.sark == 0:
		return scsi.InvalidFieldInParameterList(8, -1)
	default:
		if !r.removeKey(o.sark, o.nexus) {
			return scsi.ErrReservationConflict
		}
	}
	r.gen++
	return nil
}

// holderKey is the key of the reservation holder.
func (r *reservations) holderKey() uint64 {
	k, _ := r.key(r.holder)
	return k
}

// removeKey unregisters every nexus but keep whose key is key, and
// reports whether any was.
func (r *reservations) removeKey(key uint64, keep string) bool {
	n := len(r.regs)
	r.regs = slices.DeleteFunc(r.regs, func(g registration) bool { return g.key == key && g.nexus != keep })
	return len(r.regs) < n
}
