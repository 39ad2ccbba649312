package wire

import "ferry/internal/xdr"

// Body is a message body. One Go type serves v3 and v4: AppendXDR and
// DecodeXDR write and read the layout of the version they are given, and
// fields that one version lacks are left out (when encoding) or left zero
// (when decoding). DecodeXDR reports failures through the Decoder's sticky
// error; it never panics.
type Body interface {
	AppendXDR(b []byte, v Version) []byte
	DecodeXDR(d *xdr.Decoder, v Version)
}

// empty implements Body for messages without a body; the empty request
// and reply types embed it.
type empty struct{}

// AppendXDR appends nothing.
func (empty) AppendXDR(b []byte, _ Version) []byte { return b }

// DecodeXDR reads nothing.
func (empty) DecodeXDR(*xdr.Decoder, Version) {}

// ErrorReply is the body of every reply that carries only an ndmp_error
// (CONNECT_OPEN, TAPE_OPEN, MOVER_SET_WINDOW, ...).
type ErrorReply struct {
	Error Error
}

// AppendXDR implements Body.
func (r *ErrorReply) AppendXDR(b []byte, _ Version) []byte { return appendError(b, r.Error) }

// DecodeXDR implements Body.
func (r *ErrorReply) DecodeXDR(d *xdr.Decoder, _ Version) { r.Error = Error(d.Uint32()) }
