package ssc

import "ferry/internal/scsi"

// attention tracks the NOT READY TO READY CHANGE, MEDIUM MAY HAVE CHANGED
// unit attention (0x28/0x00) per initiator: a cartridge moved into the
// drive, or loaded again after UNLOAD, is announced once to every
// initiator the LU has seen, on its next command (SAM-5 5.14, SSC-3
// 4.2.1), as a real drive does, so initiators that cache the tape's state
// (Linux st) start afresh.
type attention struct {
	started bool            // seen is known
	seen    string          // barcode last seen in the drive, "" for none
	pending map[string]bool // initiator -> an attention waits for it
}

// exempt are the commands a unit attention does not stop (SAM-5).
func exempt(op byte) bool {
	return op == scsi.OpInquiry || op == scsi.OpReportLUNs || op == scsi.OpRequestSense
}

// check returns the unit attention waiting for the command's initiator,
// after looking whether the cartridge changed. The cartridge cannot change
// while the LU holds the drive, so the library is read only when it does
// not.
func (d *Device) check(cmd *scsi.Command) error {
	a := &d.st.attn
	if a.pending == nil {
		a.pending = map[string]bool{}
	}
	if _, known := a.pending[cmd.Initiator]; !known {
		a.pending[cmd.Initiator] = false
	}
	if d.st.m == nil {
		if barcode, err := d.loaded(); err == nil {
			d.noteCartridge(barcode)
		}
	}
	if !a.pending[cmd.Initiator] || len(cmd.CDB) == 0 || exempt(cmd.CDB[0]) {
		return nil
	}
	a.pending[cmd.Initiator] = false
	return scsi.UnitAttentionSense(0x28, 0x00)
}

// noteCartridge records what is in the drive; a cartridge other than the
// one seen before raises the attention for every initiator.
func (d *Device) noteCartridge(barcode string) {
	a := &d.st.attn
	if a.started && barcode != a.seen && barcode != "" {
		d.raiseAttention()
	}
	a.started, a.seen = true, barcode
}

// raiseAttention queues the attention for every initiator seen.
func (d *Device) raiseAttention() {
	for k := range d.st.attn.pending {
		d.st.attn.pending[k] = true
	}
}
