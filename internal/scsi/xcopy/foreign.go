package xcopy

import (
	"context"
	"errors"
	"net/netip"

	"ferry/internal/scsi"
)

// Foreign is an optional ability of Units: reaching logical units of
// other targets, as a third-party copy manager does. The copy manager asks
// it only while resolving a list's CSCDs, all before segment 0: for an
// iSCSI CSCD (E5h, EAh), and for an E4h designator no unit of the issuing
// nexus carries. An implementation must answer ErrNotAllowed, without
// making any connection, for a target the issuing initiator's allow-list
// does not name, and ErrUnreachable when an allowed target cannot be
// reached. Its methods must be safe for concurrent use.
type Foreign interface {
	// ByPortal returns the logical unit lun of the target at portal.
	ByPortal(ctx context.Context, initiator string, portal netip.AddrPort, lun uint64) (ForeignUnit, error)
	// ByDesignator returns the logical units of the targets whose
	// allow-list entries say they may carry the designator value; the
	// copy manager keeps the one whose VPD page 0x83 has it (code set,
	// association and type included) and releases the others. None is
	// not an error.
	ByDesignator(ctx context.Context, initiator string, value []byte) ([]ForeignUnit, error)
}

// ForeignUnit is a logical unit of another target, addressed like a
// local one. The copy releases it when it ends.
type ForeignUnit interface {
	scsi.Device
	Release()
}

// Errors a Foreign returns.
var (
	// ErrNotAllowed: the issuing initiator may not reach that target; the
	// copy fails with UNREACHABLE COPY TARGET and nothing was dialled.
	ErrNotAllowed = errors.New("xcopy: copy target not on the initiator's allow-list")
	// ErrUnreachable: the target is allowed but does not answer (dial,
	// login, lost connection, timeout); a foreign unit's Execute wraps it
	// too, which the copy reports as COPY TARGET DEVICE NOT REACHABLE.
	ErrUnreachable = errors.New("xcopy: copy target not reachable")
)

// foreign returns the Units' Foreign ability, if it has one.
func (m *Manager) foreign() (Foreign, bool) {
	f, ok := m.units.(Foreign)
	return f, ok
}

// resolvePortal resolves an iSCSI CSCD through the Foreign ability.
func (r *run) resolvePortal(c *CSCD) (*unit, error) {
	if c.BadExtension != 0 {
		return nil, &copyError{asc: 0x26, ascq: 0x00, field: c.BadExtension} // INVALID FIELD IN PARAMETER LIST
	}
	f, ok := r.m.foreign()
	if !ok {
		return nil, unreachable(c.Offset)
	}
	fu, err := f.ByPortal(r.ctx, r.initiator, c.Portal, c.LUN)
	if err != nil {
		return nil, r.foreignError(err, c)
	}
	r.borrowed = append(r.borrowed, fu)
	return r.probe(fu, c)
}

// foreignByDesignator looks for an E4h designator among the foreign units
// the allow-list offers for it: nil when none has it.
func (r *run) foreignByDesignator(c *CSCD) (scsi.Device, error) {
	f, ok := r.m.foreign()
	if !ok {
		return nil, nil
	}
	fus, err := f.ByDesignator(r.ctx, r.initiator, c.Value)
	if err != nil {
		return nil, r.foreignError(err, c)
	}
	var found scsi.Device
	for _, fu := range fus {
		r.borrowed = append(r.borrowed, fu)
		if !r.hasDesignator(fu, c) {
			continue
		}
		if found != nil {
			return nil, unreachable(c.Offset) // ambiguous
		}
		found = fu
	}
	return found, nil
}

// foreignError is the COPY ABORTED sense of a foreign target the copy
// cannot use: UNREACHABLE COPY TARGET when it is not allowed, COPY
// TARGET DEVICE NOT REACHABLE otherwise.
func (r *run) foreignError(err error, c *CSCD) error {
	if r.ctx.Err() != nil {
		return r.ctx.Err()
	}
	if errors.Is(err, ErrNotAllowed) {
		return unreachable(c.Offset)
	}
	return &copyError{asc: 0x0D, ascq: 0x02, field: c.Offset}
}

// release gives back the foreign units the copy borrowed.
func (r *run) release() {
	for _, fu := range r.borrowed {
		fu.Release()
	}
	r.borrowed = nil
}
