package server

import (
	"errors"

	"ferry/internal/ndmp/wire"
)

// maxTapeRecord is the largest TAPE_READ count served and so the largest
// record a DMA can read back through the TAPE interface; TAPE_WRITE is
// bounded by the session's record size cap.
const maxTapeRecord = 4 << 20

// tapeDrive returns the session's open drive, or the error for a tape
// operation that needs one: DEV_NOT_OPEN without a drive, ILLEGAL_STATE
// while the mover owns it.
func (s *session) tapeDrive() (*tapeUnit, wire.Error) {
	if s.drive == nil {
		return nil, wire.ErrDevNotOpen
	}
	if s.moverBusy() {
		return nil, wire.ErrIllegalState
	}
	return s.drive, wire.ErrNone
}

func tapeOpen(s *session, r *wire.TapeOpenRequest) wire.Body {
	switch {
	case r.Mode > wire.TapeRawMode || (r.Mode == wire.TapeRawMode && s.version < wire.V4):
		return errorReply(wire.ErrIllegalArgs)
	case s.drive != nil || s.scsi != nil:
		return errorReply(wire.ErrDeviceOpened)
	}
	d, err := openDrive(s.srv.cfg.Library, r.Device, r.Mode, s.version)
	if err != nil {
		s.log.Debug("ndmp: tape open", "device", r.Device, "mode", r.Mode, "err", err)
		s.reportTapeFault(r.Device, err)
		return errorReply(ndmpError(err, s.version))
	}
	d.stat = s.stat
	s.drive = d
	s.log.Debug("ndmp: tape open", "device", r.Device, "mode", r.Mode)
	return errorReply(wire.ErrNone)
}

func tapeClose(s *session, _ *wire.TapeCloseRequest) wire.Body {
	if s.drive == nil {
		return errorReply(wire.ErrDevNotOpen)
	}
	if s.moverBusy() {
		return errorReply(wire.ErrDeviceBusy)
	}
	if err := s.drive.Close(); err != nil {
		return errorReply(ndmpError(err, s.version))
	}
	s.drive = nil
	return errorReply(wire.ErrNone)
}

// tapeGetState is allowed while the mover runs: DMAs poll it for progress.
func tapeGetState(s *session, _ *wire.TapeGetStateRequest) wire.Body {
	if s.drive == nil {
		return &wire.TapeGetStateReply{Error: wire.ErrDevNotOpen, Unsupported: allTapeStateUnsupported}
	}
	st, err := s.drive.State()
	if err != nil {
		return &wire.TapeGetStateReply{Error: ndmpError(err, s.version), Unsupported: allTapeStateUnsupported}
	}
	return &wire.TapeGetStateReply{
		Flags:       st.Flags,
		FileNum:     st.FileNum,
		SoftErrors:  st.SoftErrors,
		BlockSize:   st.BlockSize,
		Blockno:     st.BlockNo,
		TotalSpace:  st.TotalSpace,
		SpaceRemain: st.SpaceRemain,
	}
}

// allTapeStateUnsupported marks every field of an error reply as carrying
// no data.
const allTapeStateUnsupported = wire.TapeStateFileNumUnsupported | wire.TapeStateSoftErrorsUnsupported |
	wire.TapeStateBlockSizeUnsupported | wire.TapeStateBlocknoUnsupported |
	wire.TapeStateTotalSpaceUnsupported | wire.TapeStateSpaceRemainUnsupported | wire.TapeStatePartitionUnsupported

func tapeMtio(s *session, r *wire.TapeMtioRequest) wire.Body {
	d, e := s.tapeDrive()
	if e != wire.ErrNone {
		return &wire.TapeMtioReply{Error: e, ResidCount: r.Count}
	}
	resid, err := d.MTIO(r.TapeOp, r.Count)
	s.reportTapeFault(d.name, err)
	return &wire.TapeMtioReply{Error: ndmpError(err, s.version), ResidCount: resid}
}

func tapeWrite(s *session, r *wire.TapeWriteRequest) wire.Body {
	d, e := s.tapeDrive()
	if e != wire.ErrNone {
		return &wire.TapeWriteReply{Error: e}
	}
	n, err := d.Write(r.DataOut)
	s.reportTapeFault(d.name, err)
	return &wire.TapeWriteReply{Error: ndmpError(err, s.version), Count: uint32(n)}
}

func tapeRead(s *session, r *wire.TapeReadRequest) wire.Body {
	d, e := s.tapeDrive()
	switch {
	case e != wire.ErrNone:
		return &wire.TapeReadReply{Error: e}
	case r.Count > maxTapeRecord:
		return &wire.TapeReadReply{Error: wire.ErrIllegalArgs}
	}
	s.readBuf = growBuf(s.readBuf, int(r.Count))
	data, err := d.Read(s.readBuf)
	s.reportTapeFault(d.name, err)
	return &wire.TapeReadReply{Error: ndmpError(err, s.version), DataIn: data}
}

// growBuf returns b resized to n bytes, reallocating only when it is too
// small; the reply is written before the next request reuses it.
func growBuf(b []byte, n int) []byte {
	if cap(b) < n {
		return make([]byte, n)
	}
	return b[:n]
}

// tapeExecuteCdb runs a CDB on the open drive's minimal SSC device
// (tapecdb.go). Like other tape operations it is refused while the mover
// owns the drive.
func tapeExecuteCdb(s *session, r *wire.TapeExecuteCdbRequest) wire.Body {
	d, e := s.tapeDrive()
	if e != wire.ErrNone {
		return &wire.TapeExecuteCdbReply{Error: e}
	}
	if d.cdb == nil {
		d.cdb = newTapeCDBDevice(d, s.srv.host.hostID)
	}
	return s.executeCDB(d.cdb, r, nil)
}

// reportTapeFault tells the DMA why a tape operation failed when the NDMP
// error cannot (a damaged cartridge: where its data ends, what was lost):
// an NDMP_LOG_MESSAGE of type error, posted before the reply, and the
// agent's log.
func (s *session) reportTapeFault(device string, err error) {
	var f *tapeFault
	if !errors.As(err, &f) {
		return
	}
	s.log.Warn("ndmp: tape", "device", device, "err", f.cause)
	msg := &wire.LogMessage{LogType: wire.LogError, Entry: device + ": " + f.cause.Error()}
	if err := s.out.post(wire.CodeLogMessage, msg); err != nil {
		s.log.Debug("ndmp: log message", "err", err)
	}
}
