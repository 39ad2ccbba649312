package wire

import "ferry/internal/xdr"

// TapeOpenRequest is NDMP_TAPE_OPEN.
type TapeOpenRequest struct {
	Device string
	Mode   TapeOpenMode
}

// AppendXDR implements Body.
func (m *TapeOpenRequest) AppendXDR(b []byte, _ Version) []byte {
	b = xdr.AppendString(b, m.Device)
	return xdr.AppendUint32(b, uint32(m.Mode))
}

// DecodeXDR implements Body.
func (m *TapeOpenRequest) DecodeXDR(d *xdr.Decoder, _ Version) {
	m.Device = d.String(MaxString)
	m.Mode = TapeOpenMode(d.Uint32())
}

// TapeCloseRequest is NDMP_TAPE_CLOSE (no body).
type TapeCloseRequest struct{ empty }

// TapeGetStateRequest is NDMP_TAPE_GET_STATE (no body).
type TapeGetStateRequest struct{ empty }

// TapeGetStateReply is the reply to NDMP_TAPE_GET_STATE. v3 ends with a
// partition number that v4 dropped; v3's "invalid" mask is v4's
// "unsupported" at the same position.
type TapeGetStateReply struct {
	Unsupported uint32 // TapeState*Unsupported bits
	Error       Error
	Flags       uint32 // TapeState* flag bits
	FileNum     uint32
	SoftErrors  uint32
	BlockSize   uint32
	Blockno     uint32
	TotalSpace  uint64
	SpaceRemain uint64
	Partition   uint32 // v3 only
}

// AppendXDR implements Body.
func (m *TapeGetStateReply) AppendXDR(b []byte, v Version) []byte {
	b = xdr.AppendUint32(b, m.Unsupported)
	b = appendError(b, m.Error)
	for _, w := range [...]uint32{m.Flags, m.FileNum, m.SoftErrors, m.BlockSize, m.Blockno} {
		b = xdr.AppendUint32(b, w)
	}
	b = xdr.AppendUint64(b, m.TotalSpace)
	b = xdr.AppendUint64(b, m.SpaceRemain)
	if v == V3 {
		b = xdr.AppendUint32(b, m.Partition)
	}
	return b
}

// DecodeXDR implements Body.
func (m *TapeGetStateReply) DecodeXDR(d *xdr.Decoder, v Version) {
	m.Unsupported = d.Uint32()
	m.Error = Error(d.Uint32())
	m.Flags = d.Uint32()
	m.FileNum = d.Uint32()
	m.SoftErrors = d.Uint32()
	m.BlockSize = d.Uint32()
	m.Blockno = d.Uint32()
	m.TotalSpace = d.Uint64()
	m.SpaceRemain = d.Uint64()
	if v == V3 {
		m.Partition = d.Uint32()
	}
}

// TapeMtioRequest is NDMP_TAPE_MTIO.
type TapeMtioRequest struct {
	TapeOp MtioOp
	Count  uint32
}

// AppendXDR implements Body.
func (m *TapeMtioRequest) AppendXDR(b []byte, _ Version) []byte {
	b = xdr.AppendUint32(b, uint32(m.TapeOp))
	return xdr.AppendUint32(b, m.Count)
}

// DecodeXDR implements Body.
func (m *TapeMtioRequest) DecodeXDR(d *xdr.Decoder, _ Version) {
	m.TapeOp = MtioOp(d.Uint32())
	m.Count = d.Uint32()
}

// TapeMtioReply is the reply to NDMP_TAPE_MTIO.
type TapeMtioReply struct {
	Error      Error
	ResidCount uint32 // operations not done
}

// AppendXDR implements Body.
func (m *TapeMtioReply) AppendXDR(b []byte, _ Version) []byte {
	b = appendError(b, m.Error)
	return xdr.AppendUint32(b, m.ResidCount)
}

// DecodeXDR implements Body.
func (m *TapeMtioReply) DecodeXDR(d *xdr.Decoder, _ Version) {
	m.Error = Error(d.Uint32())
	m.ResidCount = d.Uint32()
}

// TapeWriteRequest is NDMP_TAPE_WRITE: one tape record. DataOut may be as
// large as the record reader allows.
type TapeWriteRequest struct {
	DataOut []byte // aliases the decoded record
}

// AppendXDR implements Body.
func (m *TapeWriteRequest) AppendXDR(b []byte, _ Version) []byte {
	return xdr.AppendOpaque(b, m.DataOut)
}

// DecodeXDR implements Body.
func (m *TapeWriteRequest) DecodeXDR(d *xdr.Decoder, _ Version) {
	m.DataOut = d.Opaque(d.Remaining())
}

// TapeWriteReply is the reply to NDMP_TAPE_WRITE.
type TapeWriteReply struct {
	Error Error
	Count uint32 // bytes written
}

// AppendXDR implements Body.
func (m *TapeWriteReply) AppendXDR(b []byte, _ Version) []byte {
	b = appendError(b, m.Error)
	return xdr.AppendUint32(b, m.Count)
}

// DecodeXDR implements Body.
func (m *TapeWriteReply) DecodeXDR(d *xdr.Decoder, _ Version) {
	m.Error = Error(d.Uint32())
	m.Count = d.Uint32()
}

// TapeReadRequest is NDMP_TAPE_READ.
type TapeReadRequest struct {
	Count uint32 // bytes wanted
}

// AppendXDR implements Body.
func (m *TapeReadRequest) AppendXDR(b []byte, _ Version) []byte {
	return xdr.AppendUint32(b, m.Count)
}

// DecodeXDR implements Body.
func (m *TapeReadRequest) DecodeXDR(d *xdr.Decoder, _ Version) {
	m.Count = d.Uint32()
}

// TapeReadReply is the reply to NDMP_TAPE_READ.
type TapeReadReply struct {
	Error  Error
	DataIn []byte // aliases the decoded record
}

// AppendXDR implements Body.
func (m *TapeReadReply) AppendXDR(b []byte, _ Version) []byte {
	b = appendError(b, m.Error)
	return xdr.AppendOpaque(b, m.DataIn)
}

// DecodeXDR implements Body.
func (m *TapeReadReply) DecodeXDR(d *xdr.Decoder, _ Version) {
	m.Error = Error(d.Uint32())
	m.DataIn = d.Opaque(d.Remaining())
}
