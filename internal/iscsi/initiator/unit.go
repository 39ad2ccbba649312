package initiator

import (
	"context"
	"encoding/binary"
	"errors"
	"sync"

	"ferry/internal/scsi"
)

// SenseError is CHECK CONDITION from a target: the sense decoded, and the
// bytes as the target sent them (a copy manager forwards those).
type SenseError struct {
	Sense *scsi.Sense
	Raw   []byte
}

// Error describes the sense.
func (e *SenseError) Error() string { return "initiator: " + e.Sense.Error() }

// Unwrap gives the decoded sense, so scsi.SenseOf and errors.Is see it.
func (e *SenseError) Unwrap() error { return e.Sense }

// SenseBytes returns the sense as the target sent it.
func (e *SenseError) SenseBytes() []byte { return e.Raw }

// Unit is one logical unit of a session's target as a scsi.Device, so
// that code written for local units (the copy manager) drives a remote
// one the same way. Execute returns nil for GOOD, a *SenseError for CHECK
// CONDITION, a scsi.StatusError for the other statuses, and the
// session's error when the command did not complete. It works out how
// many bytes a command reads from its CDB (allocation lengths, and block
// counts times the block length READ CAPACITY reports) and retries a
// command that met a UNIT ATTENTION, which every new session of many
// targets gets first.
type Unit struct {
	s   *Session
	lun uint64

	mu sync.Mutex
	bs int64 // block length, once known
}

// NewUnit returns the unit lun of the session's target.
func NewUnit(s *Session, lun uint64) *Unit { return &Unit{s: s, lun: lun} }

// Session returns the unit's session.
func (u *Unit) Session() *Session { return u.s }

// unitAttentionRetries bounds the UNIT ATTENTIONs one command goes through:
// each reports one pending condition, and a target has few at once.
const unitAttentionRetries = 4

// Execute sends cmd to the unit and waits for its status.
func (u *Unit) Execute(ctx context.Context, cmd *scsi.Command) error {
	n, err := u.dataInLen(ctx, cmd.CDB)
	if err != nil {
		return err
	}
	for try := 0; ; try++ {
		var in []byte
		if n > 0 {
			in = make([]byte, n)
		}
		r, err := u.s.ExecuteInto(ctx, u.lun, cmd.CDB, cmd.DataOut, in)
		if err != nil {
			return err
		}
		cmd.DataIn = r.Data
		err = resultError(r)
		var se *SenseError
		if errors.As(err, &se) && se.Sense.Key == scsi.UnitAttention && try < unitAttentionRetries {
			continue
		}
		return err
	}
}

// resultError maps a command's status to the scsi.Device convention.
func resultError(r *Result) error {
	switch r.Status {
	case scsi.StatusGood, scsi.StatusConditionMet:
		return nil
	case scsi.StatusCheckCondition:
		s, err := scsi.ParseSense(r.Sense)
		if err != nil {
			s = &scsi.Sense{Key: scsi.HardwareError} // CHECK CONDITION without readable sense
		}
		return &SenseError{Sense: s, Raw: r.Sense}
	}
	return scsi.StatusError{Status: r.Status}
}

// dataInLen is the data-in length a CDB asks for: its allocation length,
// or for a disk READ its block count times the block length.
func (u *Unit) dataInLen(ctx context.Context, cdb []byte) (int, error) {
	if len(cdb) == 0 {
		return 0, nil
	}
	be16 := func(i int) int { return int(binary.BigEndian.Uint16(cdb[i:])) }
	be32 := func(i int) int { return int(binary.BigEndian.Uint32(cdb[i:])) }
	need := func(l int) bool { return len(cdb) >= l }
	switch op := cdb[0]; {
	case op == 0x03 && need(6), op == 0x1A && need(6): // REQUEST SENSE, MODE SENSE(6)
		return int(cdb[4]), nil
	case op == scsi.OpInquiry && need(6):
		return be16(3), nil
	case op == 0x05: // READ BLOCK LIMITS
		return 6, nil
	case op == 0x08 && need(6): // READ(6) of a tape: one variable-length record
		n := int(cdb[2])<<16 | be16(3)
		if cdb[1]&0x01 != 0 {
			return 0, errors.New("initiator: fixed-block READ(6) needs the tape's block length")
		}
		return n, nil
	case op == 0x28 && need(10): // READ(10)
		return u.blocks(ctx, be16(7))
	case op == 0xA8 && need(12): // READ(12)
		return u.blocks(ctx, be32(6))
	case op == 0x88 && need(16): // READ(16)
		return u.blocks(ctx, be32(10))
	case op == 0x25: // READ CAPACITY(10)
		return 8, nil
	case op == 0x9E && need(16), op == 0x84 && need(16): // SERVICE ACTION IN(16), RECEIVE COPY RESULTS
		return be32(10), nil
	case op == 0xA0 && need(12): // REPORT LUNS
		return be32(6), nil
	case op == 0x34 && need(10): // READ POSITION
		if l := be16(7); l > 0 {
			return l, nil
		}
		return 32, nil
	case op == 0x5A && need(10), op == 0x4D && need(10): // MODE SENSE(10), LOG SENSE
		return be16(7), nil
	}
	return 0, nil
}

// blocks is n blocks of the unit in bytes; the first call asks READ
// CAPACITY(16) for the block length.
func (u *Unit) blocks(ctx context.Context, n int) (int, error) {
	u.mu.Lock()
	bs := u.bs
	u.mu.Unlock()
	if bs == 0 {
		cdb := make([]byte, 16)
		cdb[0], cdb[1], cdb[13] = 0x9E, 0x10, 32
		cmd := &scsi.Command{CDB: cdb}
		if err := u.Execute(ctx, cmd); err != nil {
			return 0, err
		}
		if len(cmd.DataIn) < 12 {
			return 0, errors.New("initiator: short READ CAPACITY(16) data")
		}
		bs = int64(binary.BigEndian.Uint32(cmd.DataIn[8:12]))
		if bs == 0 {
			return 0, errors.New("initiator: target reports block length 0")
		}
		u.mu.Lock()
		u.bs = bs
		u.mu.Unlock()
	}
	return n * int(bs), nil
}

// ReportLUNs asks the target for its LUNs (REPORT LUNS to LUN 0).
func (s *Session) ReportLUNs(ctx context.Context) ([]uint64, error) {
	cdb := make([]byte, 12)
	cdb[0] = 0xA0
	binary.BigEndian.PutUint32(cdb[6:], 16<<10)
	cmd := &scsi.Command{CDB: cdb}
	if err := NewUnit(s, 0).Execute(ctx, cmd); err != nil {
		return nil, err
	}
	d := cmd.DataIn
	if len(d) < 8 {
		return nil, errors.New("initiator: short REPORT LUNS data")
	}
	d = d[8:min(len(d), 8+int(binary.BigEndian.Uint32(d)))]
	var luns []uint64
	for ; len(d) >= 8; d = d[8:] {
		if lun, err := scsi.DecodeLUN([8]byte(d[:8])); err == nil {
			luns = append(luns, uint64(lun))
		}
	}
	return luns, nil
}
