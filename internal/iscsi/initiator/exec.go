package initiator

import (
	"context"
	"fmt"
	"time"

	"ferry/internal/iscsi"
	"ferry/internal/scsi"
)

// Result is the outcome of a SCSI command.
type Result struct {
	Status byte
	Sense  []byte // sense data with CHECK CONDITION
	Data   []byte // data-in
	// Residual with Overflow or Underflow, as the target reported it.
	Residual            uint32
	Overflow, Underflow bool
}

// call is one outstanding command or request.
type call struct {
	itt     uint32
	cmdSN   uint32
	lun     [8]byte
	out     []byte // data-out
	in      []byte // data-in buffer
	got     int
	res     Result
	done    chan struct{}
	err     error
	opcode  iscsi.Opcode // what answers it
	tmfResp uint8
	text    []byte
}

// Execute sends a SCSI command to lun and waits for its status. dataOut is
// written to the target; up to dataInLen bytes are read back. A non-nil
// error means the command did not complete (connection lost, context
// done: the initiator then sends ABORT TASK); SCSI errors are in Result.
func (s *Session) Execute(ctx context.Context, lun uint64, cdb []byte, dataOut []byte, dataInLen int) (*Result, error) {
	return s.ExecuteInto(ctx, lun, cdb, dataOut, make([]byte, dataInLen))
}

// ExecuteInto is Execute reading data-in into dataIn (its length is the
// expected transfer length), so that a caller moving much data reuses its
// buffer; Result.Data is a prefix of dataIn.
func (s *Session) ExecuteInto(ctx context.Context, lun uint64, cdb []byte, dataOut, dataIn []byte) (*Result, error) {
	p, err := s.Start(ctx, lun, cdb, dataOut, dataIn)
	if err != nil {
		return nil, err
	}
	return p.Wait(ctx)
}

// Pending is a command sent and not yet waited for.
type Pending struct {
	s *Session
	k *call
}

// Start sends a SCSI command like ExecuteInto and returns once it is
// sent, without waiting for its status. Commands started one after the
// other get increasing CmdSNs, so a caller keeps several tape WRITEs in
// flight and the target still executes them in that order. dataOut and
// dataIn belong to the command until Wait returns.
func (s *Session) Start(ctx context.Context, lun uint64, cdb []byte, dataOut, dataIn []byte) (*Pending, error) {
	if len(cdb) == 0 || len(cdb) > 16 {
		return nil, fmt.Errorf("initiator: CDB of %d bytes", len(cdb))
	}
	if lun > scsi.MaxLUN {
		return nil, fmt.Errorf("initiator: LUN %d beyond %d", lun, scsi.MaxLUN)
	}
	if len(dataOut) > 0 && len(dataIn) > 0 {
		return nil, ErrBidirectional
	}
	k := &call{lun: scsi.EncodeLUN(uint16(lun)), out: dataOut, in: dataIn,
		done: make(chan struct{}), opcode: iscsi.OpSCSIResponse}
	cmd := iscsi.SCSICommand{Final: true, Attr: 1, LUN: k.lun,
		Read: len(dataIn) > 0, Write: len(dataOut) > 0}
	copy(cmd.CDB[:], cdb)
	if cmd.Write {
		cmd.ExpectedLen = uint32(len(dataOut))
	} else {
		cmd.ExpectedLen = uint32(len(dataIn))
	}
	if err := s.start(ctx, k, false, func(itt, cmdSN, exp uint32) error {
		cmd.ITT, cmd.CmdSN, cmd.ExpStatSN = itt, cmdSN, exp
		return s.sendCommand(&cmd, dataOut)
	}); err != nil {
		return nil, err
	}
	return &Pending{s, k}, nil
}

// CmdSN is the command's sequence number.
func (p *Pending) CmdSN() uint32 { return p.k.cmdSN }

// Wait waits for the command's status, as ExecuteInto does; when ctx
// ends first the command is aborted.
func (p *Pending) Wait(ctx context.Context) (*Result, error) {
	s, k := p.s, p.k
	if err := s.wait(ctx, k); err != nil {
		if ctx.Err() != nil {
			s.abortCall(k)
		}
		return nil, err
	}
	k.res.Data = k.in[:k.got]
	return &k.res, nil
}

// abortCall sends ABORT TASK for a command whose caller gave up, so the
// target stops it, and waits a while for the answer.
func (s *Session) abortCall(k *call) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s.taskMgmt(ctx, iscsi.TMFAbortTask, k.lun, k.itt, k.cmdSN)
}

// start registers a call, waits for room in the CmdSN window and sends it.
func (s *Session) start(ctx context.Context, k *call, imm bool, send func(itt, cmdSN, exp uint32) error) error {
	s.mu.Lock()
	for !imm && s.err == nil && serialLess(s.maxCmdSN, s.cmdSN) {
		if ctx.Err() != nil {
			s.mu.Unlock()
			return ctx.Err()
		}
		s.cond.Wait()
	}
	if s.err != nil {
		s.mu.Unlock()
		return s.err
	}
	s.itt++
	if s.itt == 0xFFFFFFFF {
		s.itt = 1
	}
	k.itt = s.itt
	sn := s.cmdSN
	k.cmdSN = sn
	if !imm {
		s.cmdSN++
	}
	s.tasks[k.itt] = k
	exp := s.expStatSN
	// Send under wmu before releasing mu so CmdSNs leave in order.
	s.wmu.Lock()
	s.mu.Unlock()
	err := send(k.itt, sn, exp)
	s.wmu.Unlock()
	if err != nil {
		s.fail(err)
	}
	return err
}

// sendCommand writes a SCSI Command with immediate data and the
// unsolicited Data-Out the negotiation allows; wmu is held.
func (s *Session) sendCommand(cmd *iscsi.SCSICommand, out []byte) error {
	p := &s.params
	first := 0
	if cmd.Write && !p.InitialR2T {
		first = min(len(out), int(p.FirstBurstLength))
	}
	imm := 0
	if cmd.Write && p.ImmediateData {
		imm = min(len(out), int(p.FirstBurstLength), int(p.PeerMaxRecvDataSegmentLength))
	}
	cmd.Final = first <= imm
	cmd.Encode(&s.hdr)
	if err := s.writePDU(&s.hdr, out[:imm]); err != nil {
		return err
	}
	if !cmd.Final {
		if err := s.sendData(cmd.LUN, cmd.ITT, 0xFFFFFFFF, out, uint32(imm), uint32(first-imm)); err != nil {
			return err
		}
	}
	return s.w.Flush()
}

// sendData writes one Data-Out sequence of n bytes from offset; wmu is held.
func (s *Session) sendData(lun [8]byte, itt, ttt uint32, out []byte, offset, n uint32) error {
	max := s.params.PeerMaxRecvDataSegmentLength
	var sn uint32
	for end := offset + n; offset < end; sn++ {
		m := min(end-offset, max)
		d := iscsi.DataOut{Final: offset+m == end, LUN: lun, ITT: itt, TTT: ttt,
			ExpStatSN: s.expStatSN, DataSN: sn, Offset: offset}
		d.Encode(&s.hdr)
		if err := s.writePDU(&s.hdr, out[offset:offset+m]); err != nil {
			return err
		}
		offset += m
	}
	return nil
}

// wait waits for a call to finish or ctx to end.
func (s *Session) wait(ctx context.Context, k *call) error {
	select {
	case <-k.done:
		return k.err
	case <-ctx.Done():
		s.mu.Lock()
		delete(s.tasks, k.itt)
		s.mu.Unlock()
		return ctx.Err()
	}
}

func serialLess(a, b uint32) bool { return int32(a-b) < 0 }

// TaskMgmt sends a task management function (iscsi.TMF...) for lun and,
// for ABORT TASK, the referenced task tag; it returns the target's
// response code. Commands the function ended (every command on the LUN
// for the LUN-wide functions, every command for target resets) fail with
// ErrAborted. Cancelling Execute's context is the usual way to abort one
// command.
func (s *Session) TaskMgmt(ctx context.Context, fn uint8, lun uint64, rtt uint32) (uint8, error) {
	return s.taskMgmt(ctx, fn, scsi.EncodeLUN(uint16(lun)), rtt, 0)
}

func (s *Session) taskMgmt(ctx context.Context, fn uint8, lun [8]byte, rtt, refCmdSN uint32) (uint8, error) {
	k := &call{done: make(chan struct{}), opcode: iscsi.OpTaskMgmtResp}
	err := s.start(ctx, k, true, func(itt, cmdSN, exp uint32) error {
		m := iscsi.TaskMgmt{Immediate: true, Function: fn, LUN: lun,
			ITT: itt, RTT: 0xFFFFFFFF, CmdSN: cmdSN, ExpStatSN: exp, RefCmdSN: cmdSN}
		if fn == iscsi.TMFAbortTask {
			m.RTT, m.RefCmdSN = rtt, refCmdSN
		}
		m.Encode(&s.hdr)
		s.w.Write(&s.hdr, nil)
		return s.w.Flush()
	})
	if err != nil {
		return 0, err
	}
	if err := s.wait(ctx, k); err != nil {
		return 0, err
	}
	if k.tmfResp == iscsi.TMFComplete {
		s.ended(fn, lun, rtt)
	}
	return k.tmfResp, nil
}

// ended fails the commands a completed task management function ended.
func (s *Session) ended(fn uint8, lun [8]byte, rtt uint32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for itt, k := range s.tasks {
		if k.opcode != iscsi.OpSCSIResponse {
			continue
		}
		var hit bool
		switch fn {
		case iscsi.TMFAbortTask:
			hit = itt == rtt
		case iscsi.TMFAbortTaskSet, iscsi.TMFClearTaskSet, iscsi.TMFLUNReset:
			hit = k.lun == lun
		case iscsi.TMFTargetWarmReset, iscsi.TMFTargetColdReset:
			hit = true
		}
		if hit {
			k.err = ErrAborted
			close(k.done)
			delete(s.tasks, itt)
		}
	}
}

// Ping sends a NOP-Out with data and checks the echo.
func (s *Session) Ping(ctx context.Context, data []byte) error {
	k := &call{done: make(chan struct{}), opcode: iscsi.OpNOPIn, in: make([]byte, len(data))}
	err := s.start(ctx, k, true, func(itt, cmdSN, exp uint32) error {
		n := iscsi.NOPOut{Immediate: true, ITT: itt, TTT: 0xFFFFFFFF, CmdSN: cmdSN, ExpStatSN: exp}
		n.Encode(&s.hdr)
		s.w.Write(&s.hdr, data)
		return s.w.Flush()
	})
	if err != nil {
		return err
	}
	if err := s.wait(ctx, k); err != nil {
		return err
	}
	if string(k.in[:k.got]) != string(data) {
		return fmt.Errorf("%w: NOP-In echoed other data", ErrProtocol)
	}
	return nil
}

// Text sends a Text Request and returns the answer's keys.
func (s *Session) Text(ctx context.Context, kvs []iscsi.KV) ([]iscsi.KV, error) {
	k := &call{done: make(chan struct{}), opcode: iscsi.OpTextResp}
	err := s.start(ctx, k, false, func(itt, cmdSN, exp uint32) error {
		q := iscsi.TextReq{Final: true, ITT: itt, TTT: 0xFFFFFFFF, CmdSN: cmdSN, ExpStatSN: exp}
		q.Encode(&s.hdr)
		s.w.Write(&s.hdr, iscsi.AppendText(nil, kvs...))
		return s.w.Flush()
	})
	if err != nil {
		return nil, err
	}
	if err := s.wait(ctx, k); err != nil {
		return nil, err
	}
	return iscsi.ParseText(k.text)
}

// Close logs the session out and closes the connection.
func (s *Session) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10e9)
	defer cancel()
	k := &call{done: make(chan struct{}), opcode: iscsi.OpLogoutResp}
	err := s.start(ctx, k, true, func(itt, cmdSN, exp uint32) error {
		l := iscsi.LogoutReq{Immediate: true, Reason: iscsi.LogoutSession, ITT: itt, CmdSN: cmdSN, ExpStatSN: exp}
		l.Encode(&s.hdr)
		s.w.Write(&s.hdr, nil)
		return s.w.Flush()
	})
	if err == nil {
		err = s.wait(ctx, k)
	}
	s.nc.Close()
	<-s.done
	if err == ErrClosed {
		err = nil
	}
	return err
}
