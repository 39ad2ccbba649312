package wire

import "ferry/internal/xdr"

// ScsiOpenRequest is NDMP_SCSI_OPEN.
type ScsiOpenRequest struct {
	Device string
}

// AppendXDR implements Body.
func (m *ScsiOpenRequest) AppendXDR(b []byte, _ Version) []byte {
	return xdr.AppendString(b, m.Device)
}

// DecodeXDR implements Body.
func (m *ScsiOpenRequest) DecodeXDR(d *xdr.Decoder, _ Version) {
	m.Device = d.String(MaxString)
}

// ScsiCloseRequest is NDMP_SCSI_CLOSE (no body).
type ScsiCloseRequest struct{ empty }

// ScsiGetStateRequest is NDMP_SCSI_GET_STATE (no body).
type ScsiGetStateRequest struct{ empty }

// ScsiGetStateReply is the reply to NDMP_SCSI_GET_STATE.
type ScsiGetStateReply struct {
	Error            Error
	TargetController int16
	TargetID         int16
	TargetLun        int16
}

// AppendXDR implements Body.
func (m *ScsiGetStateReply) AppendXDR(b []byte, _ Version) []byte {
	b = appendError(b, m.Error)
	b = xdr.AppendUint32(b, uint32(int32(m.TargetController)))
	b = xdr.AppendUint32(b, uint32(int32(m.TargetID)))
	return xdr.AppendUint32(b, uint32(int32(m.TargetLun)))
}

// DecodeXDR implements Body.
func (m *ScsiGetStateReply) DecodeXDR(d *xdr.Decoder, _ Version) {
	m.Error = Error(d.Uint32())
	m.TargetController = d.Int16()
	m.TargetID = d.Int16()
	m.TargetLun = d.Int16()
}

// ScsiSetTargetRequest is v3 NDMP_SCSI_SET_TARGET (removed in v4).
type ScsiSetTargetRequest struct {
	Device           string
	TargetController uint16
	TargetID         uint16
	TargetLun        uint16
}

// AppendXDR implements Body.
func (m *ScsiSetTargetRequest) AppendXDR(b []byte, _ Version) []byte {
	b = xdr.AppendString(b, m.Device)
	b = appendU16(b, m.TargetController)
	b = appendU16(b, m.TargetID)
	return appendU16(b, m.TargetLun)
}

// DecodeXDR implements Body.
func (m *ScsiSetTargetRequest) DecodeXDR(d *xdr.Decoder, _ Version) {
	m.Device = d.String(MaxString)
	m.TargetController = d.Uint16()
	m.TargetID = d.Uint16()
	m.TargetLun = d.Uint16()
}

// ScsiResetDeviceRequest is NDMP_SCSI_RESET_DEVICE (no body).
type ScsiResetDeviceRequest struct{ empty }

// ScsiResetBusRequest is v3 NDMP_SCSI_RESET_BUS (no body; removed in v4).
type ScsiResetBusRequest struct{ empty }

// ScsiExecuteCdbRequest is NDMP_SCSI_EXECUTE_CDB; NDMP_TAPE_EXECUTE_CDB has
// the same body.
type ScsiExecuteCdbRequest struct {
	Flags     uint32 // ScsiDataIn or ScsiDataOut
	Timeout   uint32 // milliseconds
	DataInLen uint32 // bytes expected from the device
	Cdb       []byte // aliases the decoded record
	DataOut   []byte // aliases the decoded record
}

// AppendXDR implements Body.
func (m *ScsiExecuteCdbRequest) AppendXDR(b []byte, _ Version) []byte {
	b = xdr.AppendUint32(b, m.Flags)
	b = xdr.AppendUint32(b, m.Timeout)
	b = xdr.AppendUint32(b, m.DataInLen)
	b = xdr.AppendOpaque(b, m.Cdb)
	return xdr.AppendOpaque(b, m.DataOut)
}

// DecodeXDR implements Body.
func (m *ScsiExecuteCdbRequest) DecodeXDR(d *xdr.Decoder, _ Version) {
	m.Flags = d.Uint32()
	m.Timeout = d.Uint32()
	m.DataInLen = d.Uint32()
	m.Cdb = d.Opaque(MaxSmall)
	m.DataOut = d.Opaque(d.Remaining())
}

// ScsiExecuteCdbReply is the reply to NDMP_SCSI_EXECUTE_CDB and
// NDMP_TAPE_EXECUTE_CDB.
type ScsiExecuteCdbReply struct {
	Error      Error
	Status     uint8 // SCSI status byte
	DataOutLen uint32
	DataIn     []byte // aliases the decoded record
	ExtSense   []byte // aliases the decoded record
}

// AppendXDR implements Body.
func (m *ScsiExecuteCdbReply) AppendXDR(b []byte, _ Version) []byte {
	b = appendError(b, m.Error)
	b = xdr.AppendUint32(b, uint32(m.Status))
	b = xdr.AppendUint32(b, m.DataOutLen)
	b = xdr.AppendOpaque(b, m.DataIn)
	return xdr.AppendOpaque(b, m.ExtSense)
}

// DecodeXDR implements Body.
func (m *ScsiExecuteCdbReply) DecodeXDR(d *xdr.Decoder, _ Version) {
	m.Error = Error(d.Uint32())
	m.Status = d.Uint8()
	m.DataOutLen = d.Uint32()
	m.DataIn = d.Opaque(d.Remaining())
	m.ExtSense = d.Opaque(MaxSmall)
}

// TapeExecuteCdbRequest is NDMP_TAPE_EXECUTE_CDB, laid out like
// ScsiExecuteCdbRequest.
type TapeExecuteCdbRequest = ScsiExecuteCdbRequest

// TapeExecuteCdbReply is the reply to NDMP_TAPE_EXECUTE_CDB.
type TapeExecuteCdbReply = ScsiExecuteCdbReply
