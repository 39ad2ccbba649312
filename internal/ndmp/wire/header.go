package wire

import (
	"errors"

	"ferry/internal/xdr"
)

// HeaderSize is the encoded size of a Header: six 32-bit words.
const HeaderSize = 24

// ErrShortHeader is returned by DecodeHeader for a record shorter than a
// header; the spec says such a record is discarded without reply.
var ErrShortHeader = errors.New("wire: record shorter than a message header")

// Header is the ndmp_header that starts every message. Its layout is the
// same in every protocol version.
type Header struct {
	Sequence      uint32      // per-connection, per-direction counter starting at 1
	Timestamp     uint32      // seconds since the Unix epoch
	Type          MessageType // Request (also for posts) or Reply
	Code          Code        // message code
	ReplySequence uint32      // in replies: the request's Sequence; else 0
	Error         Error       // header-level error; a reply with one has no body
}

// AppendXDR appends the encoded header to b.
func (h Header) AppendXDR(b []byte) []byte {
	b = xdr.AppendUint32(b, h.Sequence)
	b = xdr.AppendUint32(b, h.Timestamp)
	b = xdr.AppendUint32(b, uint32(h.Type))
	b = xdr.AppendUint32(b, uint32(h.Code))
	b = xdr.AppendUint32(b, h.ReplySequence)
	return xdr.AppendUint32(b, uint32(h.Error))
}

// DecodeHeader decodes the header at the start of a record and returns it
// with the body bytes that follow (aliasing b).
func DecodeHeader(b []byte) (Header, []byte, error) {
	if len(b) < HeaderSize {
		return Header{}, nil, ErrShortHeader
	}
	d := xdr.NewDecoder(b[:HeaderSize])
	h := Header{
		Sequence:      d.Uint32(),
		Timestamp:     d.Uint32(),
		Type:          MessageType(d.Uint32()),
		Code:          Code(d.Uint32()),
		ReplySequence: d.Uint32(),
		Error:         Error(d.Uint32()),
	}
	return h, b[HeaderSize:], nil
}
