package scsi

import (
	"context"
	"encoding/binary"
	"slices"
	"sync"
)

// LUs is the registry of a target's logical units: each device by its LUN
// and by the logical-unit designators it reports in VPD page 0x83 (its NAA,
// T10 vendor ID...). Transports serve from it by LUN; the copy manager and
// management find a unit by designator. It is safe for concurrent use.
type LUs struct {
	mu     sync.RWMutex
	byLUN  map[uint64]lu
	byDesi map[string]uint64 // designatorKey -> LUN
}

type lu struct {
	dev  Device
	keys []string
}

// NewLUs returns an empty registry.
func NewLUs() *LUs { return &LUs{byLUN: map[uint64]lu{}, byDesi: map[string]uint64{}} }

// Set puts dev on lun, replacing what was there; a nil dev removes the LUN.
// The device's designators are read once, here (a standard INQUIRY of VPD
// page 0x83).
func (r *LUs) Set(lun uint64, dev Device) {
	var keys []string
	if dev != nil {
		for _, d := range Designators(context.Background(), dev, "") {
			if d.Association == 0 {
				keys = append(keys, designatorKey(d))
			}
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if old, ok := r.byLUN[lun]; ok {
		for _, k := range old.keys {
			if r.byDesi[k] == lun {
				delete(r.byDesi, k)
			}
		}
		delete(r.byLUN, lun)
	}
	if dev == nil {
		return
	}
	r.byLUN[lun] = lu{dev: dev, keys: keys}
	for _, k := range keys {
		r.byDesi[k] = lun
	}
}

// LUNs lists the LUNs in ascending order.
func (r *LUs) LUNs() []uint64 {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]uint64, 0, len(r.byLUN))
	for l := range r.byLUN {
		out = append(out, l)
	}
	slices.Sort(out)
	return out
}

// Unit returns the device on lun.
func (r *LUs) Unit(lun uint64) (Device, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	u, ok := r.byLUN[lun]
	return u.dev, ok
}

// ByDesignator returns the LUN and device of the unit reporting the
// logical-unit designator d.
func (r *LUs) ByDesignator(d Designator) (uint64, Device, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	lun, ok := r.byDesi[designatorKey(d)]
	if !ok {
		return 0, nil, false
	}
	return lun, r.byLUN[lun].dev, true
}

// designatorKey identifies a designator by what SPC compares: code set,
// association, type and value.
func designatorKey(d Designator) string {
	return string([]byte{d.CodeSet & 0x0F, d.Association & 3, d.Type & 0x0F}) + string(d.Value)
}

// Designators returns the designators dev reports in VPD page 0x83, as
// seen by initiator (nil when the page cannot be read or is malformed
// past its first bad descriptor).
func Designators(ctx context.Context, dev Device, initiator string) []Designator {
	cmd := &Command{CDB: []byte{OpInquiry, 0x01, 0x83, 0xFF, 0xFF, 0}, Initiator: initiator}
	if dev.Execute(ctx, cmd) != nil {
		return nil
	}
	return ParseDesignators(cmd.DataIn)
}

// ParseDesignators decodes VPD page 0x83 (its 4-byte header included),
// stopping at the first descriptor that does not fit.
func ParseDesignators(page []byte) []Designator {
	if len(page) < 4 {
		return nil
	}
	p := page[4:min(len(page), 4+int(binary.BigEndian.Uint16(page[2:4])))]
	var out []Designator
	for len(p) >= 4 {
		n := int(p[3])
		if 4+n > len(p) {
			break
		}
		out = append(out, Designator{Protocol: p[0] >> 4, CodeSet: p[0] & 0x0F, PIV: p[1]&0x80 != 0,
			Association: p[1] >> 4 & 3, Type: p[1] & 0x0F, Value: slices.Clone(p[4 : 4+n])})
		p = p[4+n:]
	}
	return out
}
