package wire

import "ferry/internal/xdr"

// ConnectOpenRequest is NDMP_CONNECT_OPEN: the protocol version the DMA
// wants. Its layout is frozen across versions.
type ConnectOpenRequest struct {
	ProtocolVersion uint16
}

// AppendXDR implements Body.
func (m *ConnectOpenRequest) AppendXDR(b []byte, _ Version) []byte {
	return appendU16(b, m.ProtocolVersion)
}

// DecodeXDR implements Body.
func (m *ConnectOpenRequest) DecodeXDR(d *xdr.Decoder, _ Version) {
	m.ProtocolVersion = d.Uint16()
}

// ConnectClientAuthRequest is NDMP_CONNECT_CLIENT_AUTH.
type ConnectClientAuthRequest struct {
	AuthData AuthData
}

// AppendXDR implements Body.
func (m *ConnectClientAuthRequest) AppendXDR(b []byte, v Version) []byte {
	return m.AuthData.appendXDR(b, v)
}

// DecodeXDR implements Body.
func (m *ConnectClientAuthRequest) DecodeXDR(d *xdr.Decoder, v Version) {
	m.AuthData.decodeXDR(d, v)
}

// ConnectCloseRequest is NDMP_CONNECT_CLOSE (no body).
type ConnectCloseRequest struct{ empty }

// ConnectCloseReply is the empty reply NDMJOB sends to CONNECT_CLOSE
// although the spec defines none.
type ConnectCloseReply struct{ empty }

// ConnectServerAuthRequest is NDMP_CONNECT_SERVER_AUTH.
type ConnectServerAuthRequest struct {
	ClientAttr AuthAttr
}

// AppendXDR implements Body.
func (m *ConnectServerAuthRequest) AppendXDR(b []byte, v Version) []byte {
	return m.ClientAttr.appendXDR(b, v)
}

// DecodeXDR implements Body.
func (m *ConnectServerAuthRequest) DecodeXDR(d *xdr.Decoder, v Version) {
	m.ClientAttr.decodeXDR(d, v)
}

// ConnectServerAuthReply is the reply to NDMP_CONNECT_SERVER_AUTH.
type ConnectServerAuthReply struct {
	Error        Error
	ServerResult AuthData
}

// AppendXDR implements Body.
func (m *ConnectServerAuthReply) AppendXDR(b []byte, v Version) []byte {
	b = appendError(b, m.Error)
	return m.ServerResult.appendXDR(b, v)
}

// DecodeXDR implements Body.
func (m *ConnectServerAuthReply) DecodeXDR(d *xdr.Decoder, v Version) {
	m.Error = Error(d.Uint32())
	m.ServerResult.decodeXDR(d, v)
}
