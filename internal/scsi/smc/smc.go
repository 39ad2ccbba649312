// Package smc is the SCSI media changer command set (SMC-3) over ferry's
// changer model: a scsi.Device that NDMP's SCSI service and the iSCSI
// target hand CDBs to. It reaches the library through the narrow Changer
// interface it declares, so the same device serves the file-backed
// library and in-memory changers in tests.
package smc

import (
	"context"

	"ferry/internal/changer"
	"ferry/internal/scsi"
)

// Changer is what the command set needs from a library. Implementations
// are safe for concurrent use; errors are the changer package's sentinels
// (wrapped or not), which the device maps to sense data.
type Changer interface {
	Elements() ([]changer.Element, error)
	Move(src, dst uint16) error
	Exchange(src, dst1, dst2 uint16) error
	SetPreventRemoval(prevent bool) error
	InitializeElementStatus() error
}

// Identity names the changer in its INQUIRY data.
type Identity = scsi.Identity

// SMC operation codes.
const (
	OpInitializeElementStatus          byte = 0x07
	OpPositionToElement                byte = 0x2B
	OpInitializeElementStatusWithRange byte = 0x37
	OpMoveMedium                       byte = 0xA5
	OpExchangeMedium                   byte = 0xA6
	OpReadElementStatus                byte = 0xB8
)

// Device is a media changer logical unit. It is safe for concurrent use
// when its Changer is.
type Device struct {
	c     Changer
	inq   scsi.Inquiry
	table *scsi.Table
}

var _ scsi.Device = (*Device)(nil)

// New returns a media changer device over c. Empty identity fields get
// ferry's defaults.
func New(c Changer, id Identity) *Device {
	d := &Device{c: c, inq: scsi.Inquiry{
		Type:     scsi.MediumChanger,
		Identity: withDefaults(id),
		Versions: []uint16{scsi.VersionSAM5, scsi.VersionSPC4, scsi.VersionSMC3},
	}}
	d.table = scsi.NewTable(&d.inq)
	d.register()
	return d
}

// withDefaults fills empty identity fields.
func withDefaults(id Identity) Identity {
	if id.Vendor == "" {
		id.Vendor = "FERRY"
	}
	if id.Product == "" {
		id.Product = "VIRTUAL CHANGER"
	}
	if id.Revision == "" {
		id.Revision = "0001"
	}
	return id
}

// Inquiry returns the device's INQUIRY data, for a transport to add its
// designators (VPD page 0x83) before the first Execute.
func (d *Device) Inquiry() *scsi.Inquiry { return &d.inq }

// Table returns the device's command table, for the copy manager to add
// its commands to before the first Execute.
func (d *Device) Table() *scsi.Table { return d.table }

// Execute runs one command.
func (d *Device) Execute(ctx context.Context, cmd *scsi.Command) error {
	return d.table.Execute(ctx, cmd)
}

// register adds the SMC commands to the table.
func (d *Device) register() {
	t := d.table
	t.Register(scsi.OpModeSense6, scsi.Op{Name: "MODE SENSE(6)", Alloc: scsi.Alloc6, Run: d.modeSense6})
	t.Register(scsi.OpModeSense10, scsi.Op{Name: "MODE SENSE(10)", Alloc: scsi.Alloc10, Run: d.modeSense10})
	t.Register(scsi.OpModeSelect6, scsi.Op{Name: "MODE SELECT(6)", Run: d.modeSelect6})
	t.Register(scsi.OpModeSelect10, scsi.Op{Name: "MODE SELECT(10)", Run: d.modeSelect10})
	t.Register(scsi.OpPreventAllow, scsi.Op{Name: "PREVENT ALLOW MEDIUM REMOVAL", Run: d.preventAllow})
	t.Register(OpReadElementStatus, scsi.Op{Name: "READ ELEMENT STATUS", Alloc: allocRES, Run: d.readElementStatus})
	t.Register(OpMoveMedium, scsi.Op{Name: "MOVE MEDIUM", Run: d.moveMedium})
	t.Register(OpExchangeMedium, scsi.Op{Name: "EXCHANGE MEDIUM", Run: d.exchangeMedium})
	t.Register(OpPositionToElement, scsi.Op{Name: "POSITION TO ELEMENT", Run: d.positionToElement})
	t.Register(OpInitializeElementStatus, scsi.Op{Name: "INITIALIZE ELEMENT STATUS", Run: d.initElementStatus})
	t.Register(OpInitializeElementStatusWithRange, scsi.Op{Name: "INITIALIZE ELEMENT STATUS WITH RANGE", Run: d.initElementStatusRange})
	d.registerVolumeTags()
}
