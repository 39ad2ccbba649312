package wire

import "ferry/internal/xdr"

// DataGetStateRequest is NDMP_DATA_GET_STATE (no body).
type DataGetStateRequest struct{ empty }

// DataGetStateReply is the reply to NDMP_DATA_GET_STATE.
type DataGetStateReply struct {
	Unsupported        uint32 // DataStateEst*Unsupported bits
	Error              Error
	Operation          DataOperation
	State              DataState
	HaltReason         DataHaltReason
	BytesProcessed     uint64
	EstBytesRemain     uint64
	EstTimeRemain      uint32
	DataConnectionAddr Addr
	ReadOffset         uint64
	ReadLength         uint64
}

// AppendXDR implements Body.
func (m *DataGetStateReply) AppendXDR(b []byte, v Version) []byte {
	b = xdr.AppendUint32(b, m.Unsupported)
	b = appendError(b, m.Error)
	b = xdr.AppendUint32(b, uint32(m.Operation))
	b = xdr.AppendUint32(b, uint32(m.State))
	b = xdr.AppendUint32(b, uint32(m.HaltReason))
	b = xdr.AppendUint64(b, m.BytesProcessed)
	b = xdr.AppendUint64(b, m.EstBytesRemain)
	b = xdr.AppendUint32(b, m.EstTimeRemain)
	b = m.DataConnectionAddr.appendXDR(b, v)
	b = xdr.AppendUint64(b, m.ReadOffset)
	return xdr.AppendUint64(b, m.ReadLength)
}

// DecodeXDR implements Body.
func (m *DataGetStateReply) DecodeXDR(d *xdr.Decoder, v Version) {
	m.Unsupported = d.Uint32()
	m.Error = Error(d.Uint32())
	m.Operation = DataOperation(d.Uint32())
	m.State = DataState(d.Uint32())
	m.HaltReason = DataHaltReason(d.Uint32())
	m.BytesProcessed = d.Uint64()
	m.EstBytesRemain = d.Uint64()
	m.EstTimeRemain = d.Uint32()
	m.DataConnectionAddr.decodeXDR(d, v)
	m.ReadOffset = d.Uint64()
	m.ReadLength = d.Uint64()
}

// DataStartBackupRequest is NDMP_DATA_START_BACKUP.
type DataStartBackupRequest struct {
	ButypeName string // v3 bu_type
	Env        []PVal
}

// AppendXDR implements Body.
func (m *DataStartBackupRequest) AppendXDR(b []byte, v Version) []byte {
	b = xdr.AppendString(b, m.ButypeName)
	return appendEnv(b, m.Env, v)
}

// DecodeXDR implements Body.
func (m *DataStartBackupRequest) DecodeXDR(d *xdr.Decoder, v Version) {
	m.ButypeName = d.String(MaxString)
	m.Env = decodeEnv(d, v)
}

// DataStartRecoverRequest is NDMP_DATA_START_RECOVER and also
// NDMP_DATA_START_RECOVER_FILEHIST, which has the same body.
type DataStartRecoverRequest struct {
	Env        []PVal
	Nlist      []Name
	ButypeName string
}

// AppendXDR implements Body.
func (m *DataStartRecoverRequest) AppendXDR(b []byte, v Version) []byte {
	b = appendEnv(b, m.Env, v)
	b = appendArray(b, m.Nlist, v)
	return xdr.AppendString(b, m.ButypeName)
}

// DecodeXDR implements Body.
func (m *DataStartRecoverRequest) DecodeXDR(d *xdr.Decoder, v Version) {
	m.Env = decodeEnv(d, v)
	m.Nlist = decodeArray[Name](d, v, MaxArray, 32)
	m.ButypeName = d.String(MaxString)
}

// DataAbortRequest is NDMP_DATA_ABORT (no body).
type DataAbortRequest struct{ empty }

// DataGetEnvRequest is NDMP_DATA_GET_ENV (no body).
type DataGetEnvRequest struct{ empty }

// DataGetEnvReply returns the backup's environment, including values the
// data service added (such as DUMP_DATE).
type DataGetEnvReply struct {
	Error Error
	Env   []PVal
}

// AppendXDR implements Body.
func (m *DataGetEnvReply) AppendXDR(b []byte, v Version) []byte {
	b = appendError(b, m.Error)
	return appendEnv(b, m.Env, v)
}

// DecodeXDR implements Body.
func (m *DataGetEnvReply) DecodeXDR(d *xdr.Decoder, v Version) {
	m.Error = Error(d.Uint32())
	m.Env = decodeEnv(d, v)
}

// DataStopRequest is NDMP_DATA_STOP (no body).
type DataStopRequest struct{ empty }

// DataListenRequest is NDMP_DATA_LISTEN.
type DataListenRequest struct {
	AddrType AddrType
}

// AppendXDR implements Body.
func (m *DataListenRequest) AppendXDR(b []byte, _ Version) []byte {
	return xdr.AppendUint32(b, uint32(m.AddrType))
}

// DecodeXDR implements Body.
func (m *DataListenRequest) DecodeXDR(d *xdr.Decoder, _ Version) {
	m.AddrType = AddrType(d.Uint32())
}

// DataListenReply is the reply to NDMP_DATA_LISTEN (v3 names the address
// data_connection_addr).
type DataListenReply struct {
	Error       Error
	ConnectAddr Addr
}

// AppendXDR implements Body.
func (m *DataListenReply) AppendXDR(b []byte, v Version) []byte {
	b = appendError(b, m.Error)
	return m.ConnectAddr.appendXDR(b, v)
}

// DecodeXDR implements Body.
func (m *DataListenReply) DecodeXDR(d *xdr.Decoder, v Version) {
	m.Error = Error(d.Uint32())
	m.ConnectAddr.decodeXDR(d, v)
}

// DataConnectRequest is NDMP_DATA_CONNECT.
type DataConnectRequest struct {
	Addr Addr
}

// AppendXDR implements Body.
func (m *DataConnectRequest) AppendXDR(b []byte, v Version) []byte {
	return m.Addr.appendXDR(b, v)
}

// DecodeXDR implements Body.
func (m *DataConnectRequest) DecodeXDR(d *xdr.Decoder, v Version) {
	m.Addr.decodeXDR(d, v)
}
