package wire

import "ferry/internal/xdr"

// MoverGetStateRequest is NDMP_MOVER_GET_STATE (no body).
type MoverGetStateRequest struct{ empty }

// MoverGetStateReply is the reply to NDMP_MOVER_GET_STATE. Mode is sent in
// v4 only; v3 calls BytesMoved data_written.
type MoverGetStateReply struct {
	Error              Error
	Mode               MoverMode // v4 only
	State              MoverState
	PauseReason        MoverPauseReason
	HaltReason         MoverHaltReason
	RecordSize         uint32
	RecordNum          uint32
	BytesMoved         uint64
	SeekPosition       uint64
	BytesLeftToRead    uint64
	WindowOffset       uint64
	WindowLength       uint64
	DataConnectionAddr Addr
}

// AppendXDR implements Body.
func (m *MoverGetStateReply) AppendXDR(b []byte, v Version) []byte {
	b = appendError(b, m.Error)
	if v >= V4 {
		b = xdr.AppendUint32(b, uint32(m.Mode))
	}
	for _, w := range [...]uint32{uint32(m.State), uint32(m.PauseReason), uint32(m.HaltReason), m.RecordSize, m.RecordNum} {
		b = xdr.AppendUint32(b, w)
	}
	for _, q := range [...]uint64{m.BytesMoved, m.SeekPosition, m.BytesLeftToRead, m.WindowOffset, m.WindowLength} {
		b = xdr.AppendUint64(b, q)
	}
	return m.DataConnectionAddr.appendXDR(b, v)
}

// DecodeXDR implements Body.
func (m *MoverGetStateReply) DecodeXDR(d *xdr.Decoder, v Version) {
	m.Error = Error(d.Uint32())
	if v >= V4 {
		m.Mode = MoverMode(d.Uint32())
	}
	m.State = MoverState(d.Uint32())
	m.PauseReason = MoverPauseReason(d.Uint32())
	m.HaltReason = MoverHaltReason(d.Uint32())
	m.RecordSize = d.Uint32()
	m.RecordNum = d.Uint32()
	m.BytesMoved = d.Uint64()
	m.SeekPosition = d.Uint64()
	m.BytesLeftToRead = d.Uint64()
	m.WindowOffset = d.Uint64()
	m.WindowLength = d.Uint64()
	m.DataConnectionAddr.decodeXDR(d, v)
}

// MoverListenRequest is NDMP_MOVER_LISTEN.
type MoverListenRequest struct {
	Mode     MoverMode
	AddrType AddrType
}

// AppendXDR implements Body.
func (m *MoverListenRequest) AppendXDR(b []byte, _ Version) []byte {
	b = xdr.AppendUint32(b, uint32(m.Mode))
	return xdr.AppendUint32(b, uint32(m.AddrType))
}

// DecodeXDR implements Body.
func (m *MoverListenRequest) DecodeXDR(d *xdr.Decoder, _ Version) {
	m.Mode = MoverMode(d.Uint32())
	m.AddrType = AddrType(d.Uint32())
}

// MoverListenReply is the reply to NDMP_MOVER_LISTEN (v3 names the
// address data_connection_addr).
type MoverListenReply struct {
	Error       Error
	ConnectAddr Addr
}

// AppendXDR implements Body.
func (m *MoverListenReply) AppendXDR(b []byte, v Version) []byte {
	b = appendError(b, m.Error)
	return m.ConnectAddr.appendXDR(b, v)
}

// DecodeXDR implements Body.
func (m *MoverListenReply) DecodeXDR(d *xdr.Decoder, v Version) {
	m.Error = Error(d.Uint32())
	m.ConnectAddr.decodeXDR(d, v)
}

// MoverContinueRequest is NDMP_MOVER_CONTINUE (no body).
type MoverContinueRequest struct{ empty }

// MoverAbortRequest is NDMP_MOVER_ABORT (no body).
type MoverAbortRequest struct{ empty }

// MoverStopRequest is NDMP_MOVER_STOP (no body).
type MoverStopRequest struct{ empty }

// MoverCloseRequest is NDMP_MOVER_CLOSE (no body).
type MoverCloseRequest struct{ empty }

// MoverSetWindowRequest is NDMP_MOVER_SET_WINDOW. Length LengthInfinity
// means an unbounded window.
type MoverSetWindowRequest struct {
	Offset uint64
	Length uint64
}

// AppendXDR implements Body.
func (m *MoverSetWindowRequest) AppendXDR(b []byte, _ Version) []byte {
	b = xdr.AppendUint64(b, m.Offset)
	return xdr.AppendUint64(b, m.Length)
}

// DecodeXDR implements Body.
func (m *MoverSetWindowRequest) DecodeXDR(d *xdr.Decoder, _ Version) {
	m.Offset = d.Uint64()
	m.Length = d.Uint64()
}

// MoverReadRequest is NDMP_MOVER_READ: the DMA asks the mover to send
// Length bytes starting at Offset of the image.
type MoverReadRequest struct {
	Offset uint64
	Length uint64
}

// AppendXDR implements Body.
func (m *MoverReadRequest) AppendXDR(b []byte, _ Version) []byte {
	b = xdr.AppendUint64(b, m.Offset)
	return xdr.AppendUint64(b, m.Length)
}

// DecodeXDR implements Body.
func (m *MoverReadRequest) DecodeXDR(d *xdr.Decoder, _ Version) {
	m.Offset = d.Uint64()
	m.Length = d.Uint64()
}

// MoverSetRecordSizeRequest is NDMP_MOVER_SET_RECORD_SIZE.
type MoverSetRecordSizeRequest struct {
	Len uint32
}

// AppendXDR implements Body.
func (m *MoverSetRecordSizeRequest) AppendXDR(b []byte, _ Version) []byte {
	return xdr.AppendUint32(b, m.Len)
}

// DecodeXDR implements Body.
func (m *MoverSetRecordSizeRequest) DecodeXDR(d *xdr.Decoder, _ Version) {
	m.Len = d.Uint32()
}

// MoverConnectRequest is NDMP_MOVER_CONNECT.
type MoverConnectRequest struct {
	Mode MoverMode
	Addr Addr
}

// AppendXDR implements Body.
func (m *MoverConnectRequest) AppendXDR(b []byte, v Version) []byte {
	b = xdr.AppendUint32(b, uint32(m.Mode))
	return m.Addr.appendXDR(b, v)
}

// DecodeXDR implements Body.
func (m *MoverConnectRequest) DecodeXDR(d *xdr.Decoder, v Version) {
	m.Mode = MoverMode(d.Uint32())
	m.Addr.decodeXDR(d, v)
}
