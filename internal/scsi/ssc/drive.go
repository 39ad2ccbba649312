package ssc

import (
	"errors"

	"ferry/internal/changer"
	"ferry/internal/library"
	"ferry/internal/scsi"
	"ferry/internal/tape"
)

// driveState is what the device knows of its drive between commands.
type driveState struct {
	m        *tape.Medium    // the held medium, nil while the drive is released
	prevent  map[string]bool // initiators whose PREVENT MEDIUM REMOVAL holds the drive
	unloaded string          // barcode of a cartridge UNLOAD ejected ("" if none)
	alerts   [64]bool        // TapeAlert flags 1..64, cleared when read
	attn     attention       // medium-change unit attentions
	res      reservation     // SPC-2 RESERVE/RELEASE
	deferred error           // a release outside a command failed
}

// loaded returns the barcode of the cartridge in the drive, "" if empty.
func (d *Device) loaded() (string, error) {
	els, err := d.lib.Elements()
	if err != nil {
		return "", err
	}
	for _, e := range els {
		if e.Type == changer.DataTransfer && e.Drive == d.drive {
			return e.Barcode, nil
		}
	}
	return "", scsi.LUNNotSupported()
}

// ready reports whether the drive has a cartridge the device may use,
// without opening it: MEDIUM NOT PRESENT for an empty drive or an
// unloaded cartridge.
func (d *Device) ready() (string, error) {
	if d.st.m != nil {
		return d.st.m.Meta().Barcode, nil
	}
	barcode, err := d.loaded()
	if err != nil {
		return "", err
	}
	if barcode == "" || barcode == d.st.unloaded {
		return "", scsi.MediumNotPresent()
	}
	d.st.unloaded = "" // another cartridge came in: it is loaded
	return barcode, nil
}

// medium returns the held medium, opening the drive if needed: writable,
// or read-only when the cartridge is write-protected or damaged (its
// intact data stays readable; writes get DATA PROTECT).
func (d *Device) medium() (*tape.Medium, error) {
	if d.st.m != nil {
		return d.st.m, nil
	}
	if _, err := d.ready(); err != nil {
		return nil, err
	}
	m, err := d.lib.OpenDrive(d.drive, false)
	if errors.Is(err, tape.ErrWriteProtected) || errors.Is(err, tape.ErrDamaged) {
		m, err = d.lib.OpenDrive(d.drive, true)
	}
	if err != nil {
		return nil, openSense(err)
	}
	d.st.m = m
	return m, nil
}

// openSense maps an OpenDrive failure to what the initiator sees.
func openSense(err error) error {
	switch {
	case errors.Is(err, library.ErrDeviceBusy):
		return scsi.ErrReservationConflict
	case errors.Is(err, library.ErrNoMedium), errors.Is(err, library.ErrMissingCartridge):
		return scsi.MediumNotPresent()
	case errors.Is(err, library.ErrNoDevice):
		return scsi.LUNNotSupported()
	}
	return err
}

// settle releases the drive when the tape is at beginning of tape and
// removal is allowed: nothing is lost, since an open starts there.
func (d *Device) settle() error {
	if d.st.m == nil || len(d.st.prevent) > 0 || !d.st.m.Position().BOT {
		return nil
	}
	return d.release()
}

// release closes the held medium, making its data durable.
func (d *Device) release() error {
	if d.st.m == nil {
		return nil
	}
	m := d.st.m
	d.st.m = nil
	return d.lib.CloseDrive(d.drive, m)
}

// position returns the position, beginning of tape when the drive is
// released.
func (d *Device) position() tape.Position {
	if d.st.m == nil {
		return tape.Position{BOT: true}
	}
	return d.st.m.Position()
}

// meta returns the loaded cartridge's metadata.
func (d *Device) meta() (tape.Meta, error) {
	if d.st.m != nil {
		return d.st.m.Meta(), nil
	}
	barcode, err := d.ready()
	if err != nil {
		return tape.Meta{}, err
	}
	meta, err := d.lib.CartridgeMeta(barcode)
	if err != nil {
		return tape.Meta{}, scsi.MediumNotPresent()
	}
	return meta, nil
}

// writeProtected reports whether writes to the loaded cartridge fail: its
// tab is set, or it is damaged (never written again).
func (d *Device) writeProtected() bool {
	if d.st.m != nil {
		return d.st.m.ReadOnly() || d.st.m.Meta().WriteProtected
	}
	meta, err := d.meta()
	if err != nil || meta.WriteProtected {
		return err == nil
	}
	return d.damaged(meta.Barcode)
}

// damaged reports whether the cartridge lost data, with a read-only open
// that takes no lock (a header and one entry read).
func (d *Device) damaged(barcode string) bool {
	m, err := d.lib.OpenCartridge(barcode)
	if err != nil {
		return false
	}
	defer m.Close()
	return m.Damage() != nil
}
