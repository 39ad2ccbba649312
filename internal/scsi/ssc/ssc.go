// Package ssc is the SCSI stream command set (SSC-3, with the SSC-4
// READ POSITION and LOCATE forms) over the library's tape drives: a
// scsi.Device per drive that the iSCSI target serves as a sequential-access
// logical unit.
//
// A Device holds its drive (library.OpenDrive) only while it needs the
// medium: from the first command that moves the tape or reads or writes it
// until the tape is back at beginning of tape with removal allowed. Between
// those, NDMP sessions (and other processes) may open the drive; while the
// Device holds it they get DEVICE_BUSY, and while they hold it the Device
// answers RESERVATION CONFLICT. docs/ssc.md states the rule and the sense
// every condition gets.
package ssc

import (
	"context"
	"sync"

	"ferry/internal/changer"
	"ferry/internal/scsi"
	"ferry/internal/tape"
)

// Library is what a tape logical unit needs from the tape library.
// *library.Library implements it; it must be safe for concurrent use.
type Library interface {
	// OpenDrive opens the cartridge in the drive at beginning of tape and
	// keeps the drive exclusively until CloseDrive.
	OpenDrive(name string, readOnly bool) (*tape.Medium, error)
	// CloseDrive closes a medium OpenDrive returned and releases the drive.
	CloseDrive(name string, m *tape.Medium) error
	// Elements lists the changer's elements; the drive's tells what is loaded.
	Elements() ([]changer.Element, error)
	// CartridgeMeta returns a cartridge's metadata without opening it.
	CartridgeMeta(barcode string) (tape.Meta, error)
	// OpenCartridge opens a cartridge read-only without taking a drive
	// (its damage and the space left); the caller closes it.
	OpenCartridge(barcode string) (*tape.Medium, error)
}

// Identity names the drive in its INQUIRY data.
type Identity = scsi.Identity

// SSC operation codes.
const (
	OpRewind               byte = 0x01
	OpReadBlockLimits      byte = 0x05
	OpRead6                byte = 0x08
	OpWrite6               byte = 0x0A
	OpWriteFilemarks6      byte = 0x10
	OpSpace6               byte = 0x11
	OpErase6               byte = 0x19
	OpLoadUnload           byte = 0x1B
	OpLocate10             byte = 0x2B
	OpReadPosition         byte = 0x34
	OpReportDensitySupport byte = 0x44
	OpLogSense             byte = 0x4D
	OpWriteFilemarks16     byte = 0x80
	OpRead16               byte = 0x88
	OpWrite16              byte = 0x8A
	OpReadAttribute        byte = 0x8C
	OpSpace16              byte = 0x91
	OpLocate16             byte = 0x92
)

// DensityCode is the density code ferry's virtual cartridges report: a
// vendor-specific code (SSC-3 reserves 0x80-0xFF for vendors).
const DensityCode = 0x80

// MaxBlockLen is the largest block READ BLOCK LIMITS reports and a
// fixed-block mode may select: the largest 24-bit transfer length.
const MaxBlockLen = 1<<24 - 1

// maxTransfer caps the bytes one READ or WRITE moves, so a fixed-block
// CDB cannot make the device allocate without bound.
const maxTransfer = tape.MaxRecordLen

// Device is a tape drive logical unit. It is safe for concurrent use:
// commands run one at a time, as on a real drive.
type Device struct {
	lib   Library
	drive string
	inq   scsi.Inquiry
	table *scsi.Table

	mu    sync.Mutex
	st    driveState
	mode  modeState
	stats counters

	blockLen blockLength // the block length, readable without mu
}

var _ scsi.Device = (*Device)(nil)

// New returns the tape logical unit of the named drive. Empty identity
// fields get ferry's defaults; the serial number defaults to the drive's
// name.
func New(lib Library, drive string, id Identity) *Device {
	d := &Device{lib: lib, drive: drive, mode: defaultMode()}
	d.inq = scsi.Inquiry{
		Type:      scsi.SequentialAccess,
		Removable: true,
		Identity:  withDefaults(id, drive),
		Versions:  []uint16{scsi.VersionSAM5, scsi.VersionSPC4, scsi.VersionSSC3},
		Pages:     []scsi.VPDPage{{Code: 0xB0, Data: []byte{0, 0}}},
	}
	d.table = scsi.NewTable(&d.inq)
	d.register()
	return d
}

// withDefaults fills empty identity fields.
func withDefaults(id Identity, drive string) Identity {
	if id.Vendor == "" {
		id.Vendor = "FERRY"
	}
	if id.Product == "" {
		id.Product = "VIRTUAL TAPE"
	}
	if id.Revision == "" {
		id.Revision = "0001"
	}
	if id.Serial == "" {
		id.Serial = drive
	}
	return id
}

// Table returns the device's command table, for the copy manager to add
// its commands to before the first Execute.
func (d *Device) Table() *scsi.Table { return d.table }

// Inquiry returns the device's INQUIRY data, for a transport to add its
// designators (VPD page 0x83) before the first Execute.
func (d *Device) Inquiry() *scsi.Inquiry { return &d.inq }

// Drive returns the name of the drive the device serves.
func (d *Device) Drive() string { return d.drive }

// Execute runs one command, then lets the drive go if the tape is at
// beginning of tape and removal is allowed.
func (d *Device) Execute(ctx context.Context, cmd *scsi.Command) error {
	if thirdPartyCopy(cmd.CDB) {
		// The copy manager runs outside the drive lock: it issues its
		// own READ, WRITE and positioning commands to this drive.
		return d.table.Execute(ctx, cmd)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.conflict(cmd); err != nil {
		return err
	}
	if err := d.takeDeferred(); err != nil {
		return err
	}
	if err := d.check(cmd); err != nil {
		return err
	}
	err := d.table.Execute(ctx, cmd)
	if rerr := d.settle(); err == nil {
		err = rerr
	}
	return err
}

// thirdPartyCopy reports EXTENDED COPY and RECEIVE COPY RESULTS.
func thirdPartyCopy(cdb []byte) bool {
	return len(cdb) > 0 && (cdb[0] == 0x83 || cdb[0] == 0x84)
}

// Close releases the drive if the device holds it, making written data
// durable. The device stays usable: the next command opens the drive again.
func (d *Device) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.release()
}

// register adds the SSC commands to the table.
func (d *Device) register() {
	t := d.table
	t.Register(scsi.OpTestUnitReady, scsi.Op{Name: "TEST UNIT READY", Run: d.testUnitReady})
	t.Register(OpRewind, scsi.Op{Name: "REWIND", Run: d.rewind})
	t.Register(OpReadBlockLimits, scsi.Op{Name: "READ BLOCK LIMITS", Run: d.readBlockLimits})
	t.Register(OpRead6, scsi.Op{Name: "READ(6)", Run: d.read6})
	t.Register(OpRead16, scsi.Op{Name: "READ(16)", Run: d.read16})
	t.Register(OpWrite6, scsi.Op{Name: "WRITE(6)", Run: d.write6})
	t.Register(OpWrite16, scsi.Op{Name: "WRITE(16)", Run: d.write16})
	t.Register(OpWriteFilemarks6, scsi.Op{Name: "WRITE FILEMARKS(6)", Run: d.writeFilemarks6})
	t.Register(OpWriteFilemarks16, scsi.Op{Name: "WRITE FILEMARKS(16)", Run: d.writeFilemarks16})
	t.Register(OpSpace6, scsi.Op{Name: "SPACE(6)", Run: d.space6})
	t.Register(OpSpace16, scsi.Op{Name: "SPACE(16)", Run: d.space16})
	t.Register(OpLocate10, scsi.Op{Name: "LOCATE(10)", Run: d.locate10})
	t.Register(OpLocate16, scsi.Op{Name: "LOCATE(16)", Run: d.locate16})
	t.Register(OpErase6, scsi.Op{Name: "ERASE(6)", Run: d.erase})
	t.Register(OpLoadUnload, scsi.Op{Name: "LOAD UNLOAD", Run: d.loadUnload})
	t.Register(scsi.OpPreventAllow, scsi.Op{Name: "PREVENT ALLOW MEDIUM REMOVAL", Run: d.preventAllow})
	d.registerPosition()
	t.Register(scsi.OpModeSense6, scsi.Op{Name: "MODE SENSE(6)", Alloc: scsi.Alloc6, Run: d.modeSense6})
	t.Register(scsi.OpModeSense10, scsi.Op{Name: "MODE SENSE(10)", Alloc: scsi.Alloc10, Run: d.modeSense10})
	t.Register(scsi.OpModeSelect6, scsi.Op{Name: "MODE SELECT(6)", Run: d.modeSelect6})
	t.Register(scsi.OpModeSelect10, scsi.Op{Name: "MODE SELECT(10)", Run: d.modeSelect10})
	t.Register(OpReportDensitySupport, scsi.Op{Name: "REPORT DENSITY SUPPORT", Alloc: scsi.Alloc10, Run: d.reportDensity})
	t.Register(OpLogSense, scsi.Op{Name: "LOG SENSE", Alloc: scsi.Alloc10, Run: d.logSense})
	d.registerAttributes()
	d.registerReservations()
}

// InOrder reports that the device's commands must run one at a time in
// the order the initiator issued them: a transport that lets several be
// in flight (the iSCSI target's Ordered) keeps them in CmdSN order.
func (d *Device) InOrder() bool { return true }
