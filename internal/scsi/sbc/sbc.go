// Package sbc is the SCSI block command set (SBC-3) over a disk image: a
// scsi.Device that the iSCSI target (and the copy manager) hands CDBs to.
// It reaches its storage through the narrow Backend interface it declares,
// which ferry's internal/disk satisfies. docs/disk.md describes the
// commands, the limits the device reports and the reservation rules.
package sbc

import (
	"context"
	"encoding/binary"
	"io"
	"sync"
	"sync/atomic"

	"ferry/internal/scsi"
)

// Backend is the storage behind a disk logical unit. ReadAt and WriteAt
// use byte offsets and are safe for concurrent use; holes read as zeros.
type Backend interface {
	io.ReaderAt
	io.WriterAt
	Name() string   // the unit serial number
	BlockSize() int // 512 or 4096
	Blocks() uint64
	NAA() []byte // the 8-byte NAA designator, stable for the disk's life
	Thin() bool  // unmapped blocks are holes and UNMAP deallocates
	Sync() error
	// Deallocate makes n bytes at off read as zeros and, where it can,
	// frees their space.
	Deallocate(off, n int64) error
	// Extent reports whether the byte at off is allocated and how many
	// bytes from off, at most limit, share that state.
	Extent(off, limit int64) (mapped bool, n int64, err error)
}

// ReadOnly is a Backend that may refuse every write (a snapshot): the
// device then answers writes with DATA PROTECT, WRITE PROTECTED and
// reports WP in its mode parameter header.
type ReadOnly interface {
	ReadOnly() bool
}

// protected reports whether writes are refused.
func (d *Device) protected() bool { return d.ro || d.swp.Load() }

// Identity names the disk in its INQUIRY data; the serial number is
// always the backend's name.
type Identity = scsi.Identity

// Device is a disk logical unit. It is safe for concurrent use.
type Device struct {
	b      Backend
	bs     int
	blocks uint64
	inq    scsi.Inquiry
	table  *scsi.Table

	// rw orders COMPARE AND WRITE against every other access: it holds
	// the lock, the others share it, so the compare and the write are
	// one atomic step.
	rw  sync.RWMutex
	swp atomic.Bool // the control mode page's software write protect
	ro  bool        // the backend is read-only (a snapshot): always protected

	res reservations
}

var _ scsi.Device = (*Device)(nil)

// New returns a disk device over b. Empty identity fields get ferry's
// defaults; the serial number is b's name.
func New(b Backend, id Identity) *Device {
	d := &Device{b: b, bs: b.BlockSize(), blocks: b.Blocks()}
	if r, ok := b.(ReadOnly); ok {
		d.ro = r.ReadOnly()
	}
	id = withDefaults(id)
	id.Serial = b.Name()
	d.inq = scsi.Inquiry{
		Type:     scsi.DirectAccess,
		Identity: id,
		Versions: []uint16{scsi.VersionSAM5, scsi.VersionSPC4, scsi.VersionSBC3},
		Pages:    d.vpdPages(),
	}
	d.table = scsi.NewTable(&d.inq)
	d.table.Register(scsi.OpInquiry, scsi.Op{Name: "INQUIRY", Alloc: scsi.AllocInquiry, Run: d.inquiry})
	d.register()
	d.restore()
	return d
}

// inquiry serves INQUIRY through the core, but builds VPD page 0x83
// itself so that its NAA designator is the disk's own, generated once
// and kept in the sidecar, rather than one derived from the identity.
func (d *Device) inquiry(ctx context.Context, cmd *scsi.Command) error {
	if cmd.CDB[1]&0x03 != 0x01 || cmd.CDB[2] != 0x83 {
		return d.inq.Handle(ctx, cmd)
	}
	ds := []scsi.Designator{scsi.T10VendorDesignator(d.inq.Identity)}
	if naa := d.b.NAA(); len(naa) > 0 {
		ds = append(ds, scsi.Designator{CodeSet: 1, Type: 3, Value: naa})
	} else {
		ds = append(ds, scsi.LocalNAADesignator(d.inq.Identity))
	}
	var page []byte
	for _, x := range append(ds, d.inq.Designators...) {
		page = appendDesignator(page, x)
	}
	b := make([]byte, 4, 4+len(page))
	b[0], b[1] = byte(scsi.DirectAccess), 0x83
	binary.BigEndian.PutUint16(b[2:], uint16(len(page)))
	cmd.DataIn = append(b, page...)
	return nil
}

// appendDesignator encodes one designation descriptor (SPC-4 7.8.6.1).
func appendDesignator(b []byte, d scsi.Designator) []byte {
	h1 := (d.Association&3)<<4 | d.Type&0x0F
	if d.PIV {
		h1 |= 0x80
	}
	v := d.Value[:min(len(d.Value), 255)]
	b = append(b, d.Protocol<<4|d.CodeSet&0x0F, h1, 0, byte(len(v)))
	return append(b, v...)
}

// withDefaults fills empty identity fields.
func withDefaults(id Identity) Identity {
	if id.Vendor == "" {
		id.Vendor = "FERRY"
	}
	if id.Product == "" {
		id.Product = "VIRTUAL DISK"
	}
	if id.Revision == "" {
		id.Revision = "0001"
	}
	return id
}

// Table returns the device's command table, for the copy manager to add
// its commands to before the first Execute.
func (d *Device) Table() *scsi.Table { return d.table }

// Inquiry returns the device's INQUIRY data, for a transport to add its
// designators (VPD page 0x83) before the first Execute.
func (d *Device) Inquiry() *scsi.Inquiry { return &d.inq }

// Execute runs one command: reservation conflicts first, then the
// command set.
func (d *Device) Execute(ctx context.Context, cmd *scsi.Command) error {
	if err := d.res.check(cmd); err != nil {
		return err
	}
	return d.table.Execute(ctx, cmd)
}

// Reset is a logical unit reset (and a target reset): it drops the
// RESERVE(6)/RESERVE(10) reservation and returns the mode parameters to
// their defaults (SWP off: nothing is saved); persistent reservations
// survive, as SPC-4 asks.
func (d *Device) Reset() {
	d.res.reset()
	d.swp.Store(false)
}

// NexusLost tells the device an I_T nexus ended (logout, connection
// loss): a RESERVE(6)/RESERVE(10) reservation it held is released.
// Persistent reservations and registrations survive.
func (d *Device) NexusLost(initiator string) { d.res.nexusLost(initiator) }
