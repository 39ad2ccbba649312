package target

import (
	"unsafe"

	"ferry/internal/iscsi"
)

// Write data is read from the socket straight into the buffer the command
// will hand to its device, so each byte is copied once on the way in
// rather than twice (socket -> PDU buffer -> task buffer).

// place is the Reader's Place hook: it returns where a data segment goes,
// or nil to leave it in the Reader's own buffer.
func (c *conn) place(h *iscsi.BHS, _ []byte) []byte {
	switch h.Opcode() {
	case iscsi.OpSCSICommand:
		return c.placeImmediate(h)
	case iscsi.OpDataOut:
		return c.placeDataOut(h)
	}
	return nil
}

// placeImmediate puts a write command's immediate data at the start of
// the spare buffer; startWrite makes that buffer the task's.
func (c *conn) placeImmediate(h *iscsi.BHS) []byte {
	cmd := iscsi.DecodeSCSICommand(h)
	n := uint32(h.DataLen())
	if !cmd.Write || cmd.ExpectedLen > c.t.cfg.MaxTransfer || n > cmd.ExpectedLen {
		return nil
	}
	if cap(c.spare) < int(cmd.ExpectedLen) {
		c.spare = make([]byte, cmd.ExpectedLen)
	}
	return c.spare[:n]
}

// takeSpare makes the spare buffer k's data buffer when imm, the command's
// immediate data, was read into it, and reports whether it did.
func (c *conn) takeSpare(k *task, imm []byte) bool {
	if len(imm) == 0 || cap(c.spare) < int(k.cmd.ExpectedLen) || !sameStart(imm, c.spare) {
		return false
	}
	k.data, c.spare = c.spare[:k.cmd.ExpectedLen], k.data[:0]
	return true
}

// placeDataOut returns the part of its task's buffer a Data-Out PDU that
// passes every check of dataOut fills.
func (c *conn) placeDataOut(h *iscsi.BHS) []byte {
	d := iscsi.DecodeDataOut(h)
	k, ok := c.checkDataOut(d, uint32(h.DataLen()))
	if !ok {
		return nil
	}
	return k.data[d.Offset : d.Offset+uint32(h.DataLen())]
}

// checkDataOut finds the task a Data-Out PDU of n bytes belongs to and
// checks it against the task's R2Ts or unsolicited burst, without
// changing anything.
func (c *conn) checkDataOut(d iscsi.DataOut, n uint32) (*task, bool) {
	c.tmu.Lock()
	k := c.tasks[d.ITT]
	c.tmu.Unlock()
	if k == nil || k.state != taskData || uint64(d.Offset)+uint64(n) > uint64(len(k.data)) {
		return k, false
	}
	if d.TTT == 0xFFFFFFFF {
		return k, !k.unsolDone && d.DataSN == k.unsolSN && d.Offset+n <= c.params.FirstBurstLength
	}
	i := k.findR2T(d.TTT)
	if i < 0 {
		return k, false
	}
	r := &k.r2ts[i]
	return k, d.DataSN == r.dataSN && d.Offset >= r.offset && d.Offset+n <= r.offset+r.length
}

// sameStart reports whether a and b start at the same byte.
func sameStart(a, b []byte) bool {
	return len(a) > 0 && cap(b) > 0 && unsafe.SliceData(a) == unsafe.SliceData(b)
}

// fill copies a data segment into dst unless it was read there already.
func fill(dst, data []byte) {
	if !sameStart(data, dst) {
		copy(dst, data)
	}
}
