package ssc

import (
	"encoding/binary"
	"sync/atomic"

	"ferry/internal/scsi"
)

// What the iSCSI target may tell a logical unit (the optional abilities
// target.Resetter, target.NexusLoser and target.DataOutSizer; declared
// there, implemented here without importing the transport).

// Reset is a LOGICAL UNIT RESET (SAM-5 6.6): reservations and every
// initiator's prevention of medium removal end; the drive is released if
// the tape is at beginning of tape. Position and mode are kept.
func (d *Device) Reset() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.st.res = reservation{}
	d.st.prevent = nil
	d.settleLater()
}

// NexusLost ends what the initiator held (SPC-4 5.8, 6.13): its
// reservation, its prevention of medium removal, its pending unit
// attention.
func (d *Device) NexusLost(initiator string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.st.res.held && d.st.res.holder == initiator {
		d.st.res = reservation{}
	}
	delete(d.st.prevent, initiator)
	delete(d.st.attn.pending, initiator)
	d.settleLater()
}

// settleLater settles outside a command: a failure to make the data
// durable is reported with the next command, as a deferred error.
func (d *Device) settleLater() {
	if err := d.settle(); err != nil {
		d.st.deferred = err
	}
}

// takeDeferred returns, once, the deferred error of a settle outside a
// command: HARDWARE ERROR, deferred.
func (d *Device) takeDeferred() error {
	if d.st.deferred == nil {
		return nil
	}
	d.st.deferred = nil
	s := scsi.InternalTargetFailure()
	s.Deferred = true
	return s
}

// DataOutLength returns the data-out bytes a CDB moves: WRITE(6)/(16)
// (blocks times the block length in fixed mode) and MODE SELECT(6)/(10).
// It reads the block length without waiting for a running command.
func (d *Device) DataOutLength(cdb []byte) (int, bool) {
	if len(cdb) == 0 {
		return 0, false
	}
	switch op := cdb[0]; {
	case (op == OpWrite6 && len(cdb) >= 6) || (op == OpWrite16 && len(cdb) >= 16):
		at := 2
		if op == OpWrite16 {
			at = 12
		}
		n := int(cdb[at])<<16 | int(binary.BigEndian.Uint16(cdb[at+1:]))
		if cdb[1]&0x01 != 0 {
			n *= int(d.blockLen.Load())
		}
		return n, true
	case op == 0x15 && len(cdb) >= 6:
		return int(cdb[4]), true
	case op == 0x55 && len(cdb) >= 10:
		return int(binary.BigEndian.Uint16(cdb[7:9])), true
	}
	return 0, false
}

// blockLength mirrors modeState.blockSize for DataOutLength.
type blockLength = atomic.Uint32
