package wire

import "ferry/internal/xdr"

// NotifyDataHalted is the NDMP_NOTIFY_DATA_HALTED post. TextReason exists
// in v3 only; v4 servers send a LOG_MESSAGE instead.
type NotifyDataHalted struct {
	Reason     DataHaltReason
	TextReason string // v3 only
}

// AppendXDR implements Body.
func (m *NotifyDataHalted) AppendXDR(b []byte, v Version) []byte {
	b = xdr.AppendUint32(b, uint32(m.Reason))
	if v == V3 {
		b = xdr.AppendString(b, m.TextReason)
	}
	return b
}

// DecodeXDR implements Body.
func (m *NotifyDataHalted) DecodeXDR(d *xdr.Decoder, v Version) {
	m.Reason = DataHaltReason(d.Uint32())
	if v == V3 {
		m.TextReason = d.String(MaxString)
	}
}

// NotifyConnectionStatus is the NDMP_NOTIFY_CONNECTION_STATUS post (v3
// NOTIFY_CONNECTED) that a server sends first on every connection. Its
// layout is frozen across versions.
type NotifyConnectionStatus struct {
	Reason          ConnectionStatusReason
	ProtocolVersion uint16
	TextReason      string
}

// AppendXDR implements Body.
func (m *NotifyConnectionStatus) AppendXDR(b []byte, _ Version) []byte {
	b = xdr.AppendUint32(b, uint32(m.Reason))
	b = appendU16(b, m.ProtocolVersion)
	return xdr.AppendString(b, m.TextReason)
}

// DecodeXDR implements Body.
func (m *NotifyConnectionStatus) DecodeXDR(d *xdr.Decoder, _ Version) {
	m.Reason = ConnectionStatusReason(d.Uint32())
	m.ProtocolVersion = d.Uint16()
	m.TextReason = d.String(MaxString)
}

// NotifyMoverHalted is the NDMP_NOTIFY_MOVER_HALTED post. TextReason
// exists in v3 only.
type NotifyMoverHalted struct {
	Reason     MoverHaltReason
	TextReason string // v3 only
}

// AppendXDR implements Body.
func (m *NotifyMoverHalted) AppendXDR(b []byte, v Version) []byte {
	b = xdr.AppendUint32(b, uint32(m.Reason))
	if v == V3 {
		b = xdr.AppendString(b, m.TextReason)
	}
	return b
}

// DecodeXDR implements Body.
func (m *NotifyMoverHalted) DecodeXDR(d *xdr.Decoder, v Version) {
	m.Reason = MoverHaltReason(d.Uint32())
	if v == V3 {
		m.TextReason = d.String(MaxString)
	}
}

// NotifyMoverPaused is the NDMP_NOTIFY_MOVER_PAUSED post.
type NotifyMoverPaused struct {
	Reason       MoverPauseReason
	SeekPosition uint64
}

// AppendXDR implements Body.
func (m *NotifyMoverPaused) AppendXDR(b []byte, _ Version) []byte {
	b = xdr.AppendUint32(b, uint32(m.Reason))
	return xdr.AppendUint64(b, m.SeekPosition)
}

// DecodeXDR implements Body.
func (m *NotifyMoverPaused) DecodeXDR(d *xdr.Decoder, _ Version) {
	m.Reason = MoverPauseReason(d.Uint32())
	m.SeekPosition = d.Uint64()
}

// NotifyDataRead is the NDMP_NOTIFY_DATA_READ post: the data service asks
// the DMA to have the mover send Length bytes from Offset.
type NotifyDataRead struct {
	Offset uint64
	Length uint64
}

// AppendXDR implements Body.
func (m *NotifyDataRead) AppendXDR(b []byte, _ Version) []byte {
	b = xdr.AppendUint64(b, m.Offset)
	return xdr.AppendUint64(b, m.Length)
}

// DecodeXDR implements Body.
func (m *NotifyDataRead) DecodeXDR(d *xdr.Decoder, _ Version) {
	m.Offset = d.Uint64()
	m.Length = d.Uint64()
}

// LogFile is the NDMP_LOG_FILE post: the outcome of recovering one nlist
// entry. v3 reports an ndmp_error (Error); v4 reports an ndmp_recovery_status
// (RecoveryStatus) in the same position. Only the field of the version is
// sent.
type LogFile struct {
	Name           string
	Error          Error          // v3 only
	RecoveryStatus RecoveryStatus // v4 only
}

// AppendXDR implements Body.
func (m *LogFile) AppendXDR(b []byte, v Version) []byte {
	b = xdr.AppendString(b, m.Name)
	if v == V3 {
		return appendError(b, m.Error)
	}
	return xdr.AppendUint32(b, uint32(m.RecoveryStatus))
}

// DecodeXDR implements Body.
func (m *LogFile) DecodeXDR(d *xdr.Decoder, v Version) {
	m.Name = d.String(MaxString)
	if v == V3 {
		m.Error = Error(d.Uint32())
		return
	}
	m.RecoveryStatus = RecoveryStatus(d.Uint32())
}

// LogMessage is the NDMP_LOG_MESSAGE post. v4 adds the sequence number of
// a message this entry explains (for example a NOTIFY_*_HALTED).
type LogMessage struct {
	LogType                   LogType
	MessageID                 uint32
	Entry                     string
	AssociatedMessageValid    bool   // v4 only
	AssociatedMessageSequence uint32 // v4 only
}

// AppendXDR implements Body.
func (m *LogMessage) AppendXDR(b []byte, v Version) []byte {
	b = xdr.AppendUint32(b, uint32(m.LogType))
	b = xdr.AppendUint32(b, m.MessageID)
	b = xdr.AppendString(b, m.Entry)
	if v >= V4 {
		b = xdr.AppendBool(b, m.AssociatedMessageValid)
		b = xdr.AppendUint32(b, m.AssociatedMessageSequence)
	}
	return b
}

// DecodeXDR implements Body.
func (m *LogMessage) DecodeXDR(d *xdr.Decoder, v Version) {
	m.LogType = LogType(d.Uint32())
	m.MessageID = d.Uint32()
	m.Entry = d.String(MaxString)
	if v >= V4 {
		m.AssociatedMessageValid = d.Bool()
		m.AssociatedMessageSequence = d.Uint32()
	}
}

// FhAddFile is the NDMP_FH_ADD_FILE post: a batch of path-based file
// history entries.
type FhAddFile struct {
	Files []FhFile
}

// AppendXDR implements Body. It allocates nothing when b has room.
func (m *FhAddFile) AppendXDR(b []byte, v Version) []byte { return appendArray(b, m.Files, v) }

// DecodeXDR implements Body.
func (m *FhAddFile) DecodeXDR(d *xdr.Decoder, v Version) {
	m.Files = decodeArray[FhFile](d, v, MaxArray, 24)
}

// FhAddDir is the NDMP_FH_ADD_DIR post: a batch of directory entries.
type FhAddDir struct {
	Dirs []FhDir
}

// AppendXDR implements Body. It allocates nothing when b has room.
func (m *FhAddDir) AppendXDR(b []byte, v Version) []byte { return appendArray(b, m.Dirs, v) }

// DecodeXDR implements Body.
func (m *FhAddDir) DecodeXDR(d *xdr.Decoder, v Version) {
	m.Dirs = decodeArray[FhDir](d, v, MaxArray, 20)
}

// FhAddNode is the NDMP_FH_ADD_NODE post: a batch of node attributes.
type FhAddNode struct {
	Nodes []FhNode
}

// AppendXDR implements Body. It allocates nothing when b has room.
func (m *FhAddNode) AppendXDR(b []byte, v Version) []byte { return appendArray(b, m.Nodes, v) }

// DecodeXDR implements Body.
func (m *FhAddNode) DecodeXDR(d *xdr.Decoder, v Version) {
	m.Nodes = decodeArray[FhNode](d, v, MaxArray, 20)
}
