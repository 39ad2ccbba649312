package target

import (
	"slices"
	"strings"
	"sync"

	"ferry/internal/scsi"
)

// UnitSet is a ready-made Units: a set of devices by LUN that may change
// while the target serves. Call Target.LUNsChanged after changing it.
type UnitSet struct {
	mu sync.RWMutex
	m  map[uint64]scsi.Device
}

var _ Units = (*UnitSet)(nil)

// NewUnitSet returns an empty set.
func NewUnitSet() *UnitSet { return &UnitSet{m: map[uint64]scsi.Device{}} }

// Set puts dev on lun, replacing what was there; a nil dev removes the LUN.
func (u *UnitSet) Set(lun uint64, dev scsi.Device) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if dev == nil {
		delete(u.m, lun)
		return
	}
	u.m[lun] = dev
}

// LUNs lists the LUNs in ascending order.
func (u *UnitSet) LUNs() []uint64 {
	u.mu.RLock()
	defer u.mu.RUnlock()
	out := make([]uint64, 0, len(u.m))
	for l := range u.m {
		out = append(out, l)
	}
	slices.Sort(out)
	return out
}

// Unit returns the device on lun.
func (u *UnitSet) Unit(lun uint64) (scsi.Device, bool) {
	u.mu.RLock()
	defer u.mu.RUnlock()
	d, ok := u.m[lun]
	return d, ok
}

// UnitsOf returns the devices an I_T nexus may address, for the copy
// manager (xcopy.Units): those of the LUNs its initiator sees
// (Config.Sees). nexus is scsi.Command.Initiator as the target names it,
// "INITIATOR,i,0xISID"; iSCSI names have no comma.
func (t *Target) UnitsOf(nexus string) []scsi.Device {
	initiator, _, _ := strings.Cut(nexus, ",")
	var out []scsi.Device
	for _, lun := range t.cfg.Units.LUNs() {
		if !t.sees(initiator, lun) {
			continue
		}
		if d, ok := t.cfg.Units.Unit(lun); ok {
			out = append(out, d)
		}
	}
	return out
}
