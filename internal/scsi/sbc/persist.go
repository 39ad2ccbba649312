package sbc

import (
	"encoding/json"
	"errors"
	"fmt"
)

// ReservationStore is an optional ability of a Backend: a place that
// keeps persistent reservations across restarts. With it the device
// offers APTPL (activate persist through power loss); without it APTPL
// is refused.
type ReservationStore interface {
	// LoadReservations returns the saved state, nil when there is none.
	LoadReservations() ([]byte, error)
	// SaveReservations replaces the saved state; nil removes it.
	SaveReservations([]byte) error
}

// savedVersion is the version of the saved reservation state.
const savedVersion = 1

// savedState is the saved reservation state (JSON), docs/disk.md.
type savedState struct {
	Version       int        `json:"version"`
	Generation    uint32     `json:"generation"`
	Registrations []savedReg `json:"registrations"`
	Type          byte       `json:"type,omitempty"`
	Holder        string     `json:"holder,omitempty"`
}

// savedReg is one saved registration.
type savedReg struct {
	Nexus string `json:"nexus"`
	Key   uint64 `json:"key"`
}

// errBadSaved is returned for saved state that does not decode or
// contradicts itself.
var errBadSaved = errors.New("sbc: malformed saved reservations")

// encode returns the state to save; mu is held.
func (r *reservations) encode() ([]byte, error) {
	s := savedState{Version: savedVersion, Generation: r.gen, Type: r.typ, Holder: r.holder, Registrations: []savedReg{}}
	for _, g := range r.regs {
		s.Registrations = append(s.Registrations, savedReg{g.nexus, g.key})
	}
	return json.Marshal(s)
}

// decodeSaved checks saved state and returns it as reservations.
func decodeSaved(b []byte) (*reservations, error) {
	var s savedState
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("%w: %v", errBadSaved, err)
	}
	if s.Version != savedVersion {
		return nil, fmt.Errorf("%w: version %d", errBadSaved, s.Version)
	}
	r := &reservations{gen: s.Generation, typ: s.Type, holder: s.Holder, aptpl: true}
	for _, g := range s.Registrations {
		if _, dup := r.key(g.Nexus); dup || g.Key == 0 {
			return nil, fmt.Errorf("%w: registration %q", errBadSaved, g.Nexus)
		}
		r.regs = append(r.regs, registration{g.Nexus, g.Key})
	}
	switch {
	case r.typ == 0 && r.holder != "":
		return nil, fmt.Errorf("%w: holder without a reservation", errBadSaved)
	case r.typ != 0 && !validType(r.typ):
		return nil, fmt.Errorf("%w: type %d", errBadSaved, r.typ)
	case r.typ != 0 && !allRegistrants(r.typ) && !r.holds(r.holder):
		return nil, fmt.Errorf("%w: holder %q", errBadSaved, r.holder)
	case r.typ != 0 && allRegistrants(r.typ) && len(r.regs) == 0:
		return nil, fmt.Errorf("%w: all-registrants reservation without registrants", errBadSaved)
	}
	return r, nil
}

// restore loads saved reservations from the store, if any. Saved state
// that does not decode is ignored (and replaced at the next change):
// a reservation must never keep a disk from being served.
func (d *Device) restore() {
	st, ok := d.b.(ReservationStore)
	if !ok {
		return
	}
	d.res.store = st
	b, err := st.LoadReservations()
	if err != nil || b == nil {
		return
	}
	r, err := decodeSaved(b)
	if err != nil {
		return
	}
	d.res.gen, d.res.regs, d.res.typ, d.res.holder, d.res.aptpl = r.gen, r.regs, r.typ, r.holder, true
	d.res.update()
}

// persist saves the state after a change when APTPL is in effect, and
// removes what was saved when it is not; mu is held.
func (r *reservations) persist() error {
	if r.store == nil {
		return nil
	}
	if !r.aptpl {
		return r.store.SaveReservations(nil)
	}
	b, err := r.encode()
	if err != nil {
		return err
	}
	return r.store.SaveReservations(b)
}
