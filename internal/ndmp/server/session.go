package server

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"ferry/internal/ndmp/wire"
	"ferry/internal/netguard"
	"ferry/internal/stats"
)

// notifyTimeout bounds the NOTIFY_CONNECTION_STATUS sent at shutdown or
// refusal: a peer that does not read must not hold the server up.
const notifyTimeout = 2 * time.Second

// refuseTimeout bounds the notification to a connection over the caps,
// sent from the accept loop: a fresh socket takes it at once or not at all.
const refuseTimeout = 10 * time.Millisecond

// inbound is one request as read off the connection: its header and a
// private copy of its body bytes.
type inbound struct {
	h        wire.Header
	body     []byte
	tooLarge bool // the record exceeded the cap and was skipped
}

// session is one NDMP control connection. Everything below the "owned"
// line belongs to the goroutine in run; the reader, the mover and the data
// service reach the peer only through out.
type session struct {
	srv  *Server
	conn net.Conn
	log  *slog.Logger
	out  *writer

	slot     *netguard.Slot // place among unauthenticated connections, until authenticated
	quit     chan struct{}  // closed by shutdown
	quitOnce sync.Once
	ctx      context.Context // ends with the session; bounds dials and CDBs
	cancel   context.CancelFunc

	// owned by run
	version   wire.Version
	agreed    bool // version fixed by CONNECT_OPEN or by the first other request
	authed    bool
	authFails int       // failed CONNECT_CLIENT_AUTHs
	authBy    time.Time // the auth timeout's deadline
	hangup    string    // set by a handler: end the session after its reply, telling why
	challenge []byte    // last CONFIG_GET_AUTH_ATTR(MD5) challenge
	drive     *tapeUnit
	scsi      *scsiDevice
	ext       extState
	svc       *services // mover and data service, created on first use
	readBuf   []byte    // TAPE_READ buffer, reused
	stat      *stats.Session
}

func newSession(s *Server, c net.Conn) *session {
	ctx, cancel := context.WithCancel(context.Background())
	return &session{
		ctx:     ctx,
		cancel:  cancel,
		srv:     s,
		conn:    c,
		log:     s.log.With("peer", c.RemoteAddr().String()),
		out:     newWriter(c, wire.V4),
		quit:    make(chan struct{}),
		version: wire.V4,
	}
}

// refuse tells a connection that arrived during shutdown why it is closed.
func (s *session) refuse() {
	s.notifyStatus(wire.ConnectionRefused, "ferry is shutting down")
	s.conn.Close()
}

// refuseNow closes a connection over the caps, telling it why if it can
// without waiting.
func (s *session) refuseNow(why string) {
	body := &wire.NotifyConnectionStatus{Reason: wire.ConnectionRefused, ProtocolVersion: uint16(wire.V4), TextReason: why}
	s.out.send(wire.Header{Type: wire.Request, Code: wire.CodeNotifyConnectionStatus}, body, refuseTimeout)
	s.conn.Close()
	s.cancel()
}

// shutdown asks the session to end: it posts NOTIFY_CONNECTION_STATUS
// (SHUTDOWN) and wakes run, which cleans up. Safe from any goroutine.
func (s *session) shutdown() {
	s.quitOnce.Do(func() {
		s.notifyStatus(wire.ConnectionShutdown, "ferry is shutting down")
		s.cancel() // abandon dials and commands in flight
		close(s.quit)
	})
}

func (s *session) notifyStatus(r wire.ConnectionStatusReason, text string) {
	body := &wire.NotifyConnectionStatus{Reason: r, ProtocolVersion: uint16(wire.V4), TextReason: text}
	h := wire.Header{Type: wire.Request, Code: wire.CodeNotifyConnectionStatus}
	if err := s.out.send(h, body, notifyTimeout); err != nil {
		s.log.Debug("ndmp: notify connection status", "err", err)
	}
}

// run serves the session until the peer closes, sends CONNECT_CLOSE, breaks
// the protocol, or the server shuts down; then it releases everything the
// session holds.
func (s *session) run() {
	s.log.Debug("ndmp: session start")
	s.stat = s.srv.cfg.Stats.Start("ndmp", s.conn.RemoteAddr().String())
	defer s.srv.cfg.Stats.End(s.stat)
	reqs := make(chan inbound)
	readerDone := make(chan error, 1)
	stop := make(chan struct{})
	err := s.out.post(wire.CodeNotifyConnectionStatus, &wire.NotifyConnectionStatus{
		Reason: wire.ConnectionConnected, ProtocolVersion: uint16(wire.V4), TextReason: "ferry NDMP agent",
	})
	if err == nil {
		go func() {
			err := s.read(reqs, stop)
			s.cancel() // the peer is gone: abandon dials and commands in flight
			readerDone <- err
		}()
		s.serve(reqs, readerDone)
	} else {
		readerDone <- err
	}
	// Release the devices before the peer sees the connection close, so
	// its next session finds them free.
	s.release()
	s.slot.Release()
	close(stop)
	s.conn.Close() // unblocks the reader
	<-readerDone
	s.log.Debug("ndmp: session end")
}

// serve dispatches requests until the session must end. A connection
// that has not authenticated within the auth timeout is closed.
func (s *session) serve(reqs <-chan inbound, readerDone chan error) {
	s.authBy = time.Now().Add(s.srv.cfg.AuthTimeout)
	authTimer := time.NewTimer(s.srv.cfg.AuthTimeout)
	defer authTimer.Stop()
	for {
		select {
		case in := <-reqs:
			if s.handle(in) {
				return
			}
		case <-authTimer.C:
			if !s.authed {
				s.srv.countQuietly(&s.srv.timedOut, "ndmp: no authentication in time, closing",
					"peer", s.conn.RemoteAddr().String(), "timeout", s.srv.cfg.AuthTimeout)
				s.notifyStatus(wire.ConnectionShutdown, "authentication timeout")
				return
			}
		case err := <-readerDone:
			readerDone <- err // for run's final wait
			s.logEnd(err)
			return
		case <-s.quit:
			return
		}
	}
}

func (s *session) logEnd(err error) {
	if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
		s.log.Debug("ndmp: peer closed")
		return
	}
	s.log.Info("ndmp: session ended", "err", err)
}

// read decodes records into requests until the stream fails. A record too
// short for a header is discarded (spec §2.6); one over the size cap is
// skipped by the record reader and answered with an error; a broken stream
// ends the session.
func (s *session) read(reqs chan<- inbound, stop <-chan struct{}) error {
	rr := wire.NewRecordReader(controlReader(s.conn), s.srv.cfg.MaxRecord)
	for {
		rec, err := rr.Next()
		var tle *wire.TooLargeError
		tooLarge := errors.As(err, &tle)
		switch {
		case tooLarge:
			rec = tle.Head
		case err != nil:
			return err
		}
		h, body, err := wire.DecodeHeader(rec)
		if err != nil {
			continue
		}
		in := inbound{h: h, tooLarge: tooLarge}
		if !tooLarge {
			in.body = append([]byte(nil), body...)
		}
		select {
		case reqs <- in:
		case <-stop:
			return net.ErrClosed
		}
	}
}

// release frees what the session holds: the mover and data service first
// (they use the drive), then the drive and the changer.
func (s *session) release() {
	s.cancel()
	if s.svc != nil {
		s.svc.shutdown()
	}
	if s.drive != nil {
		if err := s.drive.Close(); err != nil {
			s.log.Warn("ndmp: implicit tape close", "drive", s.drive.Name(), "err", err)
			s.drive.Close() // the second close releases without I/O
		}
		s.drive = nil
	}
	s.closeSCSI()
}
