// Package wire is NDMP's wire format for protocol versions 3 and 4: record
// marking, the message header, message codes and error codes, and one Go
// type per message body with an XDR codec that takes the protocol version.
//
// The package is pure: it does no I/O of its own beyond reading records from
// an io.Reader, holds no global state, and imports only the standard
// library and ferry/internal/xdr. docs/ndmp-wire.md describes the format.
//
// Reading a message:
//
//	rr := wire.NewRecordReader(conn, 0)
//	rec, err := rr.Next()
//	h, rest, err := wire.DecodeHeader(rec)
//	body, err := wire.DecodeBody(h.Code, h.Type, v, rest)
//
// Writing one:
//
//	buf = wire.AppendMessage(buf[:0], h, &wire.TapeOpenRequest{Device: "t0"}, v)
//	conn.Write(buf)
//
// Decoded byte slices (tape data, CDBs) alias the record, which the
// RecordReader reuses on its next call.
package wire
