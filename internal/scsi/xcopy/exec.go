package xcopy

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"

	"ferry/internal/scsi"
)

// chunk bounds the bytes one READ or WRITE of a block device moves.
const chunk = 1 << 20

// run is one EXTENDED COPY in progress.
type run struct {
	m         *Manager
	ctx       context.Context
	l         *List
	self      scsi.Device
	initiator string
	st        *copyState

	units    map[uint16]*unit
	borrowed []ForeignUnit // foreign units, released when the copy ends
	held     []byte        // residue carried to the next segment (CAT)
	seg      int
	hold     []byte // data held for RECEIVE DATA (0Bh-0Fh), newest last
	hdd      bool   // older held data was dropped
	written  uint64
	segDone  uint64 // destination units written in the current segment
}

// unit is a resolved copy source or destination.
type unit struct {
	dev    scsi.Device // nil for a null device
	cscd   *CSCD       // nil for the null devices and FFFFh
	pdt    scsi.DeviceType
	bs     int64 // disk block length
	blocks uint64
	fixed  bool
	sbl    int64 // stream block length in fixed mode
	pad    bool
}

// copyError is COPY ABORTED sense for the current segment: asc/ascq,
// and the status and sense of the copy target whose command failed.
type copyError struct {
	asc, ascq byte
	field     int // parameter list byte at fault, -1 if none
	dst       bool
	fwd       []byte // forwarded status and sense
}

func (e *copyError) Error() string { return "xcopy: copy aborted" }

// execute runs the segments in order; a failure is COPY ABORTED sense
// with the segment number and residual.
func (r *run) execute() error {
	defer r.release()
	if err := r.resolveAll(); err != nil {
		return r.abort(err)
	}
	for i := range r.l.Segments {
		r.seg, r.segDone = i, 0
		if err := r.ctx.Err(); err != nil {
			return err
		}
		if err := r.segment(&r.l.Segments[i], i == len(r.l.Segments)-1); err != nil {
			return r.abort(err)
		}
		r.m.progress(r.st, i+1, r.written)
	}
	return nil
}

// add counts bytes written to copy destinations; COPY STATUS reports
// them while the copy runs.
func (r *run) add(n int64) {
	r.written = uint64(int64(r.written) + n)
	r.m.progress(r.st, r.seg, r.written)
}

// abort turns a segment's failure into COPY ABORTED sense.
func (r *run) abort(err error) error {
	var ce *copyError
	if !errors.As(err, &ce) {
		return err // a cancelled copy: TASK ABORTED
	}
	s := &scsi.Sense{Key: scsi.CopyAborted, ASC: ce.asc, ASCQ: ce.ascq, CmdInfo: uint64(r.seg)}
	if r.segDone > 0 {
		s.Info, s.InfoValid = r.segDone, true
	}
	if ce.field >= 0 {
		s.Field = &scsi.FieldPointer{Byte: uint16(ce.field)}
	}
	if len(ce.fwd) > 0 {
		off := uint64(scsi.FixedSenseLen) << 24 // source: sense byte 8
		if ce.dst {
			off >>= 8 // destination: sense byte 9
		}
		s.CmdInfo |= off
		s.Extra = ce.fwd
	}
	return s
}

// unreachable is COPY ABORTED, UNREACHABLE COPY TARGET, pointing at the
// descriptor that named it.
func unreachable(at int) *copyError { return &copyError{asc: 0x08, ascq: 0x04, field: at} }

// resolveAll resolves every CSCD of the list before any data moves, so a
// list naming a unit the initiator may not address copies nothing.
func (r *run) resolveAll() error {
	r.units = map[uint16]*unit{}
	for i := range r.l.CSCDs {
		u, err := r.resolve(&r.l.CSCDs[i])
		if err != nil {
			return err
		}
		r.units[uint16(i)] = u
	}
	return nil
}

// resolve finds the unit a CSCD names and checks its device type: an
// iSCSI CSCD through the Foreign ability; an E4h designator among the
// initiator's units (exactly one must carry it), and only when none does,
// among the foreign units the initiator's allow-list offers for it.
func (r *run) resolve(c *CSCD) (*unit, error) {
	switch c.Type {
	case CSCDiSCSIv4, CSCDiSCSIv6:
		return r.resolvePortal(c)
	case cscdExtension:
		return nil, nil // only a segment naming it is an error
	}
	var found scsi.Device
	for _, dev := range r.m.units.UnitsOf(r.initiator) {
		if !r.hasDesignator(dev, c) {
			continue
		}
		if found != nil {
			return nil, unreachable(c.Offset) // ambiguous: it must name exactly one unit
		}
		found = dev
	}
	if found == nil {
		var err error
		if found, err = r.foreignByDesignator(c); err != nil {
			return nil, err
		}
	}
	if found == nil {
		return nil, unreachable(c.Offset)
	}
	return r.probe(found, c)
}

// hasDesignator reports whether dev's VPD page 0x83 has c's designator.
func (r *run) hasDesignator(dev scsi.Device, c *CSCD) bool {
	for _, d := range scsi.Designators(r.ctx, dev, r.initiator) {
		if d.CodeSet == c.CodeSet && d.Association == c.Association && d.Type == c.Designator && bytes.Equal(d.Value, c.Value) {
			return true
		}
	}
	return false
}

// probe reads a unit's device type (and a disk's capacity) the way any
// initiator would, with INQUIRY and READ CAPACITY(16).
func (r *run) probe(dev scsi.Device, c *CSCD) (*unit, error) {
	u := &unit{dev: dev, cscd: c, pad: c.PAD, fixed: c.Fixed, sbl: int64(c.BlockLen)}
	cmd := &scsi.Command{CDB: []byte{scsi.OpInquiry, 0, 0, 0, 96, 0}, Initiator: r.initiator}
	if err := dev.Execute(r.ctx, cmd); err != nil || len(cmd.DataIn) < 1 {
		return nil, &copyError{asc: 0x0D, ascq: 0x02, field: c.Offset} // COPY TARGET DEVICE NOT REACHABLE
	}
	u.pdt = scsi.DeviceType(cmd.DataIn[0] & 0x1F)
	if u.pdt != c.PDT {
		return nil, &copyError{asc: 0x0D, ascq: 0x03, field: c.Offset} // INCORRECT COPY TARGET DEVICE TYPE
	}
	if u.pdt != scsi.DirectAccess {
		return u, nil
	}
	cdb := make([]byte, 16)
	cdb[0], cdb[1], cdb[13] = 0x9E, 0x10, 32
	cmd = &scsi.Command{CDB: cdb, Initiator: r.initiator}
	if err := dev.Execute(r.ctx, cmd); err != nil || len(cmd.DataIn) < 12 {
		return nil, &copyError{asc: 0x0D, ascq: 0x02, field: c.Offset, fwd: forwarded(err)}
	}
	u.blocks = binary.BigEndian.Uint64(cmd.DataIn) + 1
	u.bs = int64(binary.BigEndian.Uint32(cmd.DataIn[8:12]))
	if c.BlockLen != 0 && int64(c.BlockLen) != u.bs {
		return nil, &copyError{asc: 0x0D, ascq: 0x03, field: c.Offset + 29}
	}
	return u, nil
}

// SenseBytes is implemented by errors of copy targets that carry sense
// data as the device returned it (a foreign target's CHECK CONDITION):
// COPY ABORTED forwards those bytes rather than a re-encoding.
type SenseBytes interface {
	SenseBytes() []byte
}

// maxForwarded bounds the forwarded sense bytes, so that COPY ABORTED
// sense (18 bytes, the status byte, the forwarded sense) stays within
// the 252 bytes of fixed-format sense.
const maxForwarded = 252 - scsi.FixedSenseLen - 1

// forwarded is the status byte and sense of a copy target's failed
// command, as COPY ABORTED sense carries it.
func forwarded(err error) []byte {
	if err == nil {
		return nil
	}
	var raw SenseBytes
	if errors.As(err, &raw) && len(raw.SenseBytes()) > 0 {
		b := raw.SenseBytes()
		return append([]byte{scsi.StatusCheckCondition}, b[:min(len(b), maxForwarded)]...)
	}
	status, sense := scsi.StatusOf(err)
	return append([]byte{status}, sense[:min(len(sense), scsi.FixedSenseLen)]...)
}

// target returns the unit a segment's CSCD ID names.
func (r *run) target(id uint16, s *Segment, at int) (*unit, error) {
	switch id {
	case IDNullBlock:
		return &unit{pdt: scsi.DirectAccess, bs: 512, blocks: 1 << 62}, nil
	case IDNullStream:
		return &unit{pdt: scsi.SequentialAccess}, nil
	case IDSelf:
		return r.probe(r.self, &CSCD{PDT: r.selfType()})
	}
	u, ok := r.units[id]
	if !ok {
		return nil, unreachable(s.Offset + at)
	}
	if u == nil { // the extension of an EAh descriptor
		return nil, &copyError{asc: 0x26, ascq: 0x00, field: s.Offset + at} // INVALID FIELD IN PARAMETER LIST
	}
	return u, nil
}

// selfType is the device type of the unit that received the command.
func (r *run) selfType() scsi.DeviceType {
	cmd := &scsi.Command{CDB: []byte{scsi.OpInquiry, 0, 0, 0, 96, 0}, Initiator: r.initiator}
	if r.self.Execute(r.ctx, cmd) != nil || len(cmd.DataIn) < 1 {
		return scsi.NoDevice
	}
	return scsi.DeviceType(cmd.DataIn[0] & 0x1F)
}

// endpoints resolves a segment's source and destination (nil where the
// type has none) and checks their device types.
func (r *run) endpoints(s *Segment) (src, dst *unit, err error) {
	sd := sides[base(s.Type)]
	if sd[0] != '-' {
		if src, err = r.target(s.Src, s, 4); err != nil {
			return nil, nil, err
		}
	}
	if sd[1] != '-' {
		if dst, err = r.target(s.Dst, s, 6); err != nil {
			return nil, nil, err
		}
	}
	for i, u := range []*unit{src, dst} {
		if u == nil || sd[i] == '*' {
			continue
		}
		if (u.pdt == scsi.SequentialAccess) != (sd[i] == 's') {
			return nil, nil, &copyError{asc: 0x26, ascq: 0x0C, field: s.Offset} // INVALID OPERATION FOR COPY SOURCE OR DESTINATION
		}
	}
	return src, dst, nil
}
