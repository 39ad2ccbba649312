package server

import (
	"errors"
	"log/slog"
	"reflect"
	"time"

	"ferry/internal/ndmp/wire"
	"ferry/internal/xdr"
)

// route is how the session serves one request code.
type route struct {
	serve   func(s *session, body []byte) (wire.Body, error) // error: the body did not decode
	preAuth bool                                             // allowed before CONNECT_CLIENT_AUTH
	only    wire.Version                                     // 0, or the one version that has the code
}

// on adapts a typed handler: it decodes the body into a fresh R and calls
// fn with it.
func on[R any, P interface {
	*R
	wire.Body
}](fn func(*session, P) wire.Body) func(*session, []byte) (wire.Body, error) {
	return func(s *session, body []byte) (wire.Body, error) {
		req := P(new(R))
		if err := decodeBody(body, req, s.version); err != nil {
			return nil, err
		}
		return fn(s, req), nil
	}
}

// errTrailing means a request body had bytes left over after decoding.
var errTrailing = errors.New("server: trailing bytes after request body")

func decodeBody(b []byte, body wire.Body, v wire.Version) error {
	d := xdr.NewDecoder(b)
	body.DecodeXDR(d, v)
	if err := d.Err(); err != nil {
		return err
	}
	if d.Remaining() != 0 {
		return errTrailing
	}
	return nil
}

// routes is the request table. Codes not in it are answered with a header
// error NOT_SUPPORTED. CONNECT_CLOSE is handled before the table.
func routes() map[wire.Code]route {
	return map[wire.Code]route{
		wire.CodeConnectOpen:       {serve: on(connectOpen), preAuth: true},
		wire.CodeConnectClientAuth: {serve: on(connectClientAuth), preAuth: true},
		wire.CodeConnectServerAuth: {serve: on(connectServerAuth), preAuth: true},

		wire.CodeConfigGetServerInfo:     {serve: on(configGetServerInfo), preAuth: true},
		wire.CodeConfigGetAuthAttr:       {serve: on(configGetAuthAttr), preAuth: true},
		wire.CodeConfigGetHostInfo:       {serve: on(configGetHostInfo)},
		wire.CodeConfigGetConnectionType: {serve: on(configGetConnectionType)},
		wire.CodeConfigGetButypeInfo:     {serve: on(configGetButypeInfo)},
		wire.CodeConfigGetFsInfo:         {serve: on(configGetFsInfo)},
		wire.CodeConfigGetTapeInfo:       {serve: on(configGetTapeInfo)},
		wire.CodeConfigGetScsiInfo:       {serve: on(configGetScsiInfo)},
		wire.CodeConfigGetExtList:        {serve: on(configGetExtList), only: wire.V4},
		wire.CodeConfigSetExtList:        {serve: on(configSetExtList), only: wire.V4},

		wire.CodeTapeOpen:       {serve: on(tapeOpen)},
		wire.CodeTapeClose:      {serve: on(tapeClose)},
		wire.CodeTapeGetState:   {serve: on(tapeGetState)},
		wire.CodeTapeMtio:       {serve: on(tapeMtio)},
		wire.CodeTapeWrite:      {serve: on(tapeWrite)},
		wire.CodeTapeRead:       {serve: on(tapeRead)},
		wire.CodeTapeExecuteCdb: {serve: on(tapeExecuteCdb)},

		wire.CodeScsiOpen:        {serve: on(scsiOpen)},
		wire.CodeScsiClose:       {serve: on(scsiClose)},
		wire.CodeScsiGetState:    {serve: on(scsiGetState)},
		wire.CodeScsiResetDevice: {serve: on(scsiResetDevice)},
		wire.CodeScsiExecuteCdb:  {serve: on(scsiExecuteCdb)},

		wire.CodeDataGetState:             {serve: on(dataGetState)},
		wire.CodeDataListen:               {serve: on(dataListen)},
		wire.CodeDataConnect:              {serve: on(dataConnect)},
		wire.CodeDataStartBackup:          {serve: on(dataStartBackup)},
		wire.CodeDataStartRecover:         {serve: on(dataStartRecover)},
		wire.CodeDataStartRecoverFilehist: {serve: on(dataStartRecoverFilehist)},
		wire.CodeDataAbort:                {serve: on(dataAbort)},
		wire.CodeDataStop:                 {serve: on(dataStop)},
		wire.CodeDataGetEnv:               {serve: on(dataGetEnv)},
		wire.CodeFerryRecoverAddChecksums: {serve: on(ferryRecoverAddChecksums), only: wire.V4},

		wire.CodeMoverGetState:      {serve: on(moverGetState)},
		wire.CodeMoverListen:        {serve: on(moverListen)},
		wire.CodeMoverConnect:       {serve: on(moverConnect)},
		wire.CodeMoverContinue:      {serve: on(moverContinue)},
		wire.CodeMoverAbort:         {serve: on(moverAbort)},
		wire.CodeMoverStop:          {serve: on(moverStop)},
		wire.CodeMoverClose:         {serve: on(moverClose)},
		wire.CodeMoverSetWindow:     {serve: on(moverSetWindow)},
		wire.CodeMoverRead:          {serve: on(moverRead)},
		wire.CodeMoverSetRecordSize: {serve: on(moverSetRecordSize)},
	}
}

// handle serves one request and reports whether the session must end.
func (s *session) handle(in inbound) (end bool) {
	h := in.h
	if h.Type != wire.Request {
		return false // a DMA has nothing to reply to; drop strays
	}
	if in.tooLarge {
		s.log.Info("ndmp: request over the record size cap", "code", h.Code, "max", s.srv.cfg.MaxRecord)
		return s.replyHeaderError(h, wire.ErrXDRDecode)
	}
	if h.Code == wire.CodeConnectClose {
		s.log.Debug("ndmp: connect close")
		return true // the spec defines no reply
	}
	if !s.agreed && h.Code != wire.CodeConnectOpen {
		s.agree(s.version) // any other request accepts the offered version
	}
	if h.Code.Class() != 0 {
		s.ext.used = true // an extension request selects the default set
	}
	rt, ok := s.srv.routes[h.Code]
	if !ok || (rt.only != 0 && rt.only != s.version) {
		return s.replyHeaderError(h, wire.ErrNotSupported)
	}
	if !s.authed && !rt.preAuth {
		return s.replyHeaderError(h, wire.ErrNotAuthorized)
	}
	start := time.Now()
	body, err := rt.serve(s, in.body)
	if err != nil {
		s.log.Debug("ndmp: undecodable request", "code", h.Code, "err", err)
		s.stat.Command(time.Since(start), true)
		return s.replyHeaderError(h, wire.ErrXDRDecode)
	}
	if s.stat != nil {
		s.stat.Command(time.Since(start), replyError{body}.failed())
	}
	s.log.Debug("ndmp: request", "seq", h.Sequence, "code", h.Code, "error", replyError{body})
	if err := s.out.reply(h, body, wire.ErrNone); err != nil {
		return true
	}
	if s.hangup != "" {
		s.notifyStatus(wire.ConnectionShutdown, s.hangup)
		return true
	}
	return false
}

// replyError logs the error field of a reply body, computed only when the
// log record is written.
type replyError struct{ body wire.Body }

// failed reports whether the reply carries an error other than NDMP_NO_ERR.
func (r replyError) failed() bool {
	v := reflect.ValueOf(r.body)
	if v.Kind() == reflect.Pointer && v.Elem().Kind() == reflect.Struct {
		if f := v.Elem().FieldByName("Error"); f.IsValid() {
			if e, ok := f.Interface().(wire.Error); ok {
				return e != wire.ErrNone
			}
		}
	}
	return false
}

// LogValue implements slog.LogValuer.
func (r replyError) LogValue() slog.Value {
	v := reflect.ValueOf(r.body)
	if v.Kind() == reflect.Pointer && v.Elem().Kind() == reflect.Struct {
		if f := v.Elem().FieldByName("Error"); f.IsValid() {
			if e, ok := f.Interface().(wire.Error); ok {
				return slog.StringValue(e.String())
			}
		}
	}
	return slog.StringValue("-")
}

func (s *session) replyHeaderError(h wire.Header, e wire.Error) (end bool) {
	return s.out.reply(h, nil, e.For(s.version)) != nil
}

// errorReply is the body of the many replies that carry only an error.
func errorReply(e wire.Error) *wire.ErrorReply {
	return &wire.ErrorReply{Error: e}
}

// ndmpError maps a Go error to the NDMP error sent to a peer speaking v:
// NDMP codes pass through (v4-only codes translated for v3), anything else
// is an I/O error.
func ndmpError(err error, v wire.Version) wire.Error {
	if err == nil {
		return wire.ErrNone
	}
	var e wire.Error
	if errors.As(err, &e) {
		return e.For(v)
	}
	return wire.ErrIO
}
