package target

import (
	"strings"

	"ferry/internal/scsi"
)

// scsi.LUs, the registry of logical units by LUN and by designator, is
// the Units ferry's targets serve.
var _ Units = (*scsi.LUs)(nil)

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
