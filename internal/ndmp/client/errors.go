package client

import (
	"errors"
	"fmt"
	"reflect"

	"ferry/internal/ndmp/wire"
)

// Errors of the connection itself.
var (
	// ErrClosed means the connection was closed (by Close or by the peer).
	ErrClosed = errors.New("client: connection closed")
	// ErrTimeout means a request got no reply within its timeout. The
	// connection stays usable; a late reply is discarded.
	ErrTimeout = errors.New("client: request timed out")
	// ErrVersion means the agent speaks neither v4 nor v3.
	ErrVersion = errors.New("client: no common NDMP version")
	// ErrAuth means every authentication method offered was refused.
	ErrAuth = errors.New("client: authentication failed")
	// ErrProtocol means the agent sent something NDMP does not allow here.
	ErrProtocol = errors.New("client: protocol error")
)

// ReplyError is an NDMP error in a reply: in the header (the request
// could not be dispatched) or in the body's error field. errors.Is(err,
// wire.ErrEOF) and the like match Err.
type ReplyError struct {
	Code   wire.Code  // the request
	Err    wire.Error // the NDMP error
	Header bool       // reported in the reply header rather than its body
}

// Error implements the error interface.
func (e *ReplyError) Error() string {
	where := ""
	if e.Header {
		where = " (header)"
	}
	return fmt.Sprintf("client: %v: %v%s", e.Code, e.Err, where)
}

// Unwrap returns the wire error so errors.Is matches NDMP codes.
func (e *ReplyError) Unwrap() error { return e.Err }

// IsNDMP reports whether err carries the NDMP error code e.
func IsNDMP(err error, e wire.Error) bool {
	var re *ReplyError
	return errors.As(err, &re) && re.Err == e
}

var errorType = reflect.TypeFor[wire.Error]()

// bodyError returns the error field of a reply body (every reply but
// CONNECT_CLOSE's has one), or ErrNone.
func bodyError(b wire.Body) wire.Error {
	if b == nil {
		return wire.ErrNone
	}
	v := reflect.ValueOf(b)
	if v.Kind() != reflect.Pointer || v.IsNil() {
		return wire.ErrNone
	}
	v = v.Elem()
	if v.Kind() != reflect.Struct {
		return wire.ErrNone
	}
	f := v.FieldByName("Error")
	if !f.IsValid() || f.Type() != errorType {
		return wire.ErrNone
	}
	return wire.Error(f.Uint())
}
