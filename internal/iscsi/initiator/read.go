package initiator

import (
	"encoding/binary"
	"fmt"

	"ferry/internal/iscsi"
)

// readLoop reads the target's PDUs and completes calls until the
// connection ends.
func (s *Session) readLoop() {
	defer close(s.done)
	var p iscsi.PDU
	for {
		if err := s.r.Read(&p); err != nil {
			s.fail(err)
			return
		}
		if err := s.handle(&p); err != nil {
			s.fail(err)
			s.nc.Close()
			return
		}
	}
}

// fail ends every call with err (ErrClosed for a clean end).
func (s *Session) fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err == nil {
		s.err = ErrClosed
		if err != nil {
			s.err = fmt.Errorf("%w: %v", ErrClosed, err)
		}
	}
	for itt, k := range s.tasks {
		k.err = s.err
		close(k.done)
		delete(s.tasks, itt)
	}
	s.cond.Broadcast()
}

// window records ExpCmdSN and MaxCmdSN from a response.
func (s *Session) window(b *iscsi.BHS) {
	max := binary.BigEndian.Uint32(b[32:])
	s.mu.Lock()
	if serialLess(s.maxCmdSN, max) {
		s.maxCmdSN = max
		s.cond.Broadcast()
	}
	s.mu.Unlock()
}

func (s *Session) statSN(sn uint32) {
	s.mu.Lock()
	if !serialLess(sn+1, s.expStatSN) {
		s.expStatSN = sn + 1
	}
	s.mu.Unlock()
}

// take removes and returns the call with the tag.
func (s *Session) take(itt uint32, remove bool) *call {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := s.tasks[itt]
	if remove {
		delete(s.tasks, itt)
	}
	return k
}

func (s *Session) handle(p *iscsi.PDU) error {
	op := p.BHS.Opcode()
	if op != iscsi.OpR2T && op != iscsi.OpDataIn || p.BHS[1]&0x01 != 0 {
		s.statSN(binary.BigEndian.Uint32(p.BHS[24:]))
	}
	s.window(&p.BHS)
	switch op {
	case iscsi.OpSCSIResponse:
		return s.scsiResponse(p)
	case iscsi.OpDataIn:
		return s.dataIn(p)
	case iscsi.OpR2T:
		return s.r2t(p)
	case iscsi.OpNOPIn:
		return s.nopIn(p)
	case iscsi.OpTaskMgmtResp:
		if k := s.take(p.BHS.ITT(), true); k != nil {
			k.tmfResp = iscsi.DecodeTaskMgmtResp(&p.BHS).Response
			close(k.done)
		}
	case iscsi.OpTextResp:
		return s.textResp(p)
	case iscsi.OpLogoutResp:
		if k := s.take(p.BHS.ITT(), true); k != nil {
			close(k.done)
		}
	case iscsi.OpReject:
		return s.rejected(p)
	case iscsi.OpAsync:
	default:
		return fmt.Errorf("%w: unexpected %v", ErrProtocol, op)
	}
	return nil
}

func (s *Session) scsiResponse(p *iscsi.PDU) error {
	r := iscsi.DecodeSCSIResponse(&p.BHS)
	k := s.take(r.ITT, true)
	if k == nil {
		return nil
	}
	k.res.Status, k.res.Residual = r.Status, r.Residual
	k.res.Overflow, k.res.Underflow = r.Overflow, r.Underflow
	if sense := iscsi.ParseSenseSegment(p.Data); sense != nil {
		k.res.Sense = append([]byte(nil), sense...)
	}
	close(k.done)
	return nil
}

func (s *Session) dataIn(p *iscsi.PDU) error {
	d := iscsi.DecodeDataIn(&p.BHS)
	k := s.take(d.ITT, d.HasStatus)
	if k == nil {
		return nil
	}
	end := uint64(d.Offset) + uint64(len(p.Data))
	if end > uint64(len(k.in)) {
		return fmt.Errorf("%w: Data-In beyond the buffer", ErrProtocol)
	}
	copy(k.in[d.Offset:], p.Data)
	k.got = max(k.got, int(end))
	if d.HasStatus {
		k.res.Status, k.res.Residual = d.Status, d.Residual
		k.res.Overflow, k.res.Underflow = d.Overflow, d.Underflow
		close(k.done)
	}
	return nil
}

// r2t sends the Data-Out sequence an R2T asks for.
func (s *Session) r2t(p *iscsi.PDU) error {
	r := iscsi.DecodeR2T(&p.BHS)
	k := s.take(r.ITT, false)
	if k == nil {
		return nil
	}
	if uint64(r.Offset)+uint64(r.Length) > uint64(len(k.out)) {
		return fmt.Errorf("%w: R2T beyond the data", ErrProtocol)
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if err := s.sendData(r.LUN, r.ITT, r.TTT, k.out, r.Offset, r.Length); err != nil {
		return err
	}
	return s.w.Flush()
}

// nopIn completes a ping, or answers the target's own ping.
func (s *Session) nopIn(p *iscsi.PDU) error {
	n := iscsi.DecodeNOPIn(&p.BHS)
	if n.ITT != 0xFFFFFFFF {
		if k := s.take(n.ITT, true); k != nil {
			k.got = copy(k.in, p.Data)
			close(k.done)
		}
		return nil
	}
	if n.TTT == 0xFFFFFFFF {
		return nil
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.mu.Lock()
	o := iscsi.NOPOut{Immediate: true, LUN: n.LUN, ITT: 0xFFFFFFFF, TTT: n.TTT, CmdSN: s.cmdSN, ExpStatSN: s.expStatSN}
	s.mu.Unlock()
	o.Encode(&s.hdr)
	s.w.Write(&s.hdr, nil)
	return s.w.Flush()
}

func (s *Session) textResp(p *iscsi.PDU) error {
	t := iscsi.DecodeTextResp(&p.BHS)
	k := s.take(t.ITT, t.Final)
	if k == nil {
		return nil
	}
	k.text = append(k.text, p.Data...)
	if t.Final {
		close(k.done)
		return nil
	}
	// Ask for the rest with an empty request carrying the target's TTT.
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.mu.Lock()
	q := iscsi.TextReq{Immediate: true, Final: true, ITT: t.ITT, TTT: t.TTT, CmdSN: s.cmdSN, ExpStatSN: s.expStatSN}
	s.mu.Unlock()
	q.Encode(&s.hdr)
	s.w.Write(&s.hdr, nil)
	return s.w.Flush()
}

// rejected fails the call whose header the Reject carries.
func (s *Session) rejected(p *iscsi.PDU) error {
	if len(p.Data) < iscsi.BHSLen {
		return nil
	}
	var h iscsi.BHS
	copy(h[:], p.Data)
	if k := s.take(h.ITT(), true); k != nil {
		k.err = fmt.Errorf("%w: reason 0x%02x", ErrRejected, iscsi.DecodeReject(&p.BHS).Reason)
		close(k.done)
	}
	return nil
}
