package server

import (
	"context"
	"time"

	"ferry/internal/ndmp/wire"
	"ferry/internal/scsi"
	"ferry/internal/scsi/smc"
)

// defaultCDBTimeout applies when EXECUTE_CDB gives no timeout.
const defaultCDBTimeout = time.Minute

// scsiDevice is the changer a session opened with SCSI_OPEN.
type scsiDevice struct {
	name        string
	dev         scsi.Device
	passThrough bool // a real changer (Config.PassThroughChangers)
}

// maxPassThroughDataIn bounds the buffer a pass-through EXECUTE_CDB lends.
const maxPassThroughDataIn = 16 << 20

// deviceSerial is a device's unit serial number: the host id and the
// device name, so that two ferry hosts never present the same serial (a DMA
// would take them for one shared device).
func deviceSerial(hostID, name string) string { return hostID + "-" + name }

// changerIdentity is what INQUIRY reports for the NDMP-visible changer.
func changerIdentity(hostID, name string) scsi.Identity {
	return scsi.Identity{Vendor: "FERRY", Product: "VIRTUAL CHANGER", Revision: "0001", Serial: deviceSerial(hostID, name)}
}

// scsiOpen opens the library's changer or a pass-through one. A session
// has at most one device open (tape or SCSI), and a changer serves one
// session at a time.
func scsiOpen(s *session, r *wire.ScsiOpenRequest) wire.Body {
	lib := s.srv.cfg.Library
	dev, passThrough := s.srv.cfg.PassThroughChangers[r.Device]
	switch {
	case s.drive != nil || s.scsi != nil:
		return errorReply(wire.ErrDeviceOpened)
	case !passThrough && r.Device != lib.ChangerName():
		return errorReply(wire.ErrNoDevice)
	case !s.srv.claimChanger(r.Device, s):
		return errorReply(wire.ErrDeviceBusy)
	}
	if passThrough {
		s.scsi = &scsiDevice{name: r.Device, dev: dev, passThrough: true}
		return errorReply(wire.ErrNone)
	}
	s.scsi = &scsiDevice{name: r.Device, dev: smc.New(lib, changerIdentity(s.srv.host.hostID, r.Device))}
	return errorReply(wire.ErrNone)
}

func scsiClose(s *session, _ *wire.ScsiCloseRequest) wire.Body {
	if s.scsi == nil {
		return errorReply(wire.ErrDevNotOpen)
	}
	s.closeSCSI()
	return errorReply(wire.ErrNone)
}

func (s *session) closeSCSI() {
	if s.scsi != nil {
		s.srv.releaseChanger(s.scsi.name, s)
		s.scsi = nil
	}
}

// scsiGetState reports the changer at controller 0, target 0, LUN 0.
func scsiGetState(s *session, _ *wire.ScsiGetStateRequest) wire.Body {
	if s.scsi == nil {
		return &wire.ScsiGetStateReply{Error: wire.ErrDevNotOpen}
	}
	return &wire.ScsiGetStateReply{}
}

// scsiResetDevice clears what a SCSI device reset clears on a changer: the
// PREVENT ALLOW MEDIUM REMOVAL state.
func scsiResetDevice(s *session, _ *wire.ScsiResetDeviceRequest) wire.Body {
	if s.scsi == nil {
		return errorReply(wire.ErrDevNotOpen)
	}
	if s.scsi.passThrough {
		// A real changer is told, as a reset would: PREVENT ALLOW MEDIUM
		// REMOVAL, allow.
		allow := &scsi.Command{CDB: []byte{0x1E, 0, 0, 0, 0, 0}}
		if err := s.scsi.dev.Execute(s.ctx, allow); err != nil {
			return errorReply(wire.ErrIO)
		}
		return errorReply(wire.ErrNone)
	}
	if err := s.srv.cfg.Library.SetPreventRemoval(false); err != nil {
		return errorReply(wire.ErrIO)
	}
	return errorReply(wire.ErrNone)
}

// scsiExecuteCdb runs one CDB on the changer.
func scsiExecuteCdb(s *session, r *wire.ScsiExecuteCdbRequest) wire.Body {
	if s.scsi == nil {
		return &wire.ScsiExecuteCdbReply{Error: wire.ErrDevNotOpen}
	}
	if s.scsi.passThrough && r.Flags&wire.ScsiDataIn != 0 {
		// A pass-through device learns the expected length from the
		// buffer it is lent (internal/scsi/sg).
		if r.DataInLen > maxPassThroughDataIn {
			return &wire.ScsiExecuteCdbReply{Error: wire.ErrIllegalArgs}
		}
		return s.executeCDB(s.scsi.dev, r, make([]byte, 0, r.DataInLen))
	}
	return s.executeCDB(s.scsi.dev, r, nil)
}

// executeCDB runs a SCSI_ or TAPE_EXECUTE_CDB request on dev. SCSI
// failures, malformed CDBs included, are the device's to report in status
// and sense, with NO_ERR: the transport worked.
// buf, if not nil, is lent to the device for the data-in.
func (s *session) executeCDB(dev scsi.Device, r *wire.ScsiExecuteCdbRequest, buf []byte) *wire.ScsiExecuteCdbReply {
	if r.Flags&(wire.ScsiDataIn|wire.ScsiDataOut) == wire.ScsiDataIn|wire.ScsiDataOut {
		return &wire.ScsiExecuteCdbReply{Error: wire.ErrIllegalArgs}
	}
	timeout := defaultCDBTimeout
	if r.Timeout > 0 {
		timeout = time.Duration(r.Timeout) * time.Millisecond
	}
	ctx, cancel := context.WithTimeout(s.ctx, timeout)
	defer cancel()
	cmd := &scsi.Command{CDB: r.Cdb, DataOut: r.DataOut, Buffer: buf}
	err := dev.Execute(ctx, cmd)
	status, sense := scsi.StatusOf(err)
	reply := &wire.ScsiExecuteCdbReply{Status: status, ExtSense: sense}
	if err == nil {
		reply.DataOutLen = uint32(len(r.DataOut))
	}
	if r.Flags&wire.ScsiDataIn != 0 {
		reply.DataIn = cmd.DataIn[:min(len(cmd.DataIn), int(r.DataInLen))]
	}
	return reply
}
