// Package server is ferry's NDMP agent: it accepts NDMP v4 and v3 control
// connections and serves the CONNECT, CONFIG, TAPE, SCSI, MOVER and DATA
// interfaces on the drives and the changer of one virtual tape library.
//
// Each connection is a session owned by one goroutine (session.run); a
// reader goroutine feeds it decoded requests and one mutex-guarded writer
// sends replies and the posts of the session's mover and data service.
// docs/ndmp-session.md describes the session state machine, what is allowed
// when, and the tape service's rules.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"ferry/internal/library"
	"ferry/internal/ndmp/data"
	"ferry/internal/ndmp/wire"
	"ferry/internal/netguard"
	"ferry/internal/scsi"
	"ferry/internal/scsi/smc"
	"ferry/internal/stats"
	"ferry/internal/tape"
)

// Library is what the server needs of the tape library: its drives for
// the TAPE service and its changer for the SCSI service. *library.Library
// implements it; it must be safe for concurrent use, and its errors are
// the library package's sentinels (the TAPE service maps them to NDMP).
type Library interface {
	smc.Changer
	// OpenDrive opens the cartridge in the drive at beginning of tape and
	// keeps the drive exclusively until CloseDrive.
	OpenDrive(name string, readOnly bool) (*tape.Medium, error)
	// CloseDrive closes a medium OpenDrive returned and releases the drive.
	CloseDrive(name string, m *tape.Medium) error
	// DriveNames lists the drives in element address order.
	DriveNames() []string
	// ChangerName is the changer's device name.
	ChangerName() string
}

var _ Library = (*library.Library)(nil)

// Config configures a Server.
type Config struct {
	Library     Library
	Exports     []string          // absolute directories; only paths under them may be backed up or restored into
	Credentials map[string]string // user -> password (TEXT and MD5 auth)
	Logger      *slog.Logger
	// Stats, if set, counts each session's requests, errors, latency and
	// tape bytes for the management API's metrics.
	Stats *stats.Registry

	// Engines are the data service's backup methods by butype name (e.g.
	// "tar"); CONFIG_GET_BUTYPE_INFO lists them. An engine restricts itself
	// to Exports. Nil: the data service runs no backups (DATA_START_*
	// answers ILLEGAL_ARGS) but still serves LISTEN/CONNECT and state.
	Engines map[string]data.Engine

	// MaxRecord caps one incoming NDMP record (0: DefaultMaxRecord). A larger
	// record is skipped and answered with an error.
	MaxRecord int

	// AuthTimeout is how long a connection may stay unauthenticated before
	// the server closes it (0: DefaultAuthTimeout).
	AuthTimeout time.Duration
	// MaxUnauthenticated caps the connections not yet authenticated at
	// once (0: DefaultMaxUnauthenticated), MaxUnauthenticatedPerAddr those
	// of one client address (0: DefaultMaxUnauthenticatedPerAddr). A
	// connection over a cap gets NOTIFY_CONNECTION_STATUS(REFUSED) and is
	// closed at once, so idle sockets cannot use up the descriptors that
	// DMAs need.
	MaxUnauthenticated, MaxUnauthenticatedPerAddr int
	// MaxAuthFailures is how many failed CONNECT_CLIENT_AUTHs end a
	// connection (0: DefaultMaxAuthFailures).
	MaxAuthFailures int
	// AuthThrottle slows password guessing: after failures, a connection's
	// or an address's next check waits a backoff that doubles with each
	// failure, and failures are logged once per address and interval
	// (zero fields: netguard's defaults).
	AuthThrottle netguard.ThrottleConfig

	// PassThroughChangers are real changers served beside the library's
	// virtual one, by the device name SCSI_OPEN takes (a Linux sg device,
	// internal/scsi/sg, under its path): their CDBs pass through unchanged.
	PassThroughChangers map[string]scsi.Device
}

// Defaults of the guards against unauthenticated peers.
const (
	DefaultAuthTimeout               = 15 * time.Second
	DefaultMaxUnauthenticated        = 256
	DefaultMaxUnauthenticatedPerAddr = 32
	DefaultMaxAuthFailures           = 3
)

// DefaultMaxRecord caps one incoming record: a 4 MiB TAPE_WRITE plus slack.
const DefaultMaxRecord = 4<<20 + 64<<10

// Errors returned by New.
var (
	ErrNoLibrary    = errors.New("server: Config.Library is nil")
	ErrRelativePath = errors.New("server: export path is not absolute")
)

// Server is an NDMP agent. Its methods are safe for concurrent use.
type Server struct {
	cfg     Config
	log     *slog.Logger
	routes  map[wire.Code]route
	engines map[string]data.Engine
	host    hostInfo

	pending  *netguard.Limiter // connections not authenticated yet
	throttle *netguard.Throttle
	refused  atomic.Int64 // connections closed over the caps
	timedOut atomic.Int64 // connections closed for not authenticating in time

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	sessions  map[*session]struct{}
	closing   bool
	// changerOwners are the sessions that have a changer open
	// (SCSI_OPEN), by device name.
	changerOwners map[string]*session
	wg            sync.WaitGroup // one per live session
}

// New checks cfg and returns a Server that serves nothing until Serve.
func New(cfg Config) (*Server, error) {
	if l, ok := cfg.Library.(*library.Library); cfg.Library == nil || ok && l == nil {
		return nil, ErrNoLibrary
	}
	exports := make([]string, 0, len(cfg.Exports))
	for _, e := range cfg.Exports {
		if !filepath.IsAbs(e) {
			return nil, fmt.Errorf("%w: %q", ErrRelativePath, e)
		}
		exports = append(exports, filepath.Clean(e))
	}
	cfg.Exports = exports
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxRecord <= 0 {
		cfg.MaxRecord = DefaultMaxRecord
	}
	if cfg.AuthTimeout <= 0 {
		cfg.AuthTimeout = DefaultAuthTimeout
	}
	if cfg.MaxUnauthenticated <= 0 {
		cfg.MaxUnauthenticated = DefaultMaxUnauthenticated
	}
	if cfg.MaxUnauthenticatedPerAddr <= 0 {
		cfg.MaxUnauthenticatedPerAddr = DefaultMaxUnauthenticatedPerAddr
	}
	if cfg.MaxAuthFailures <= 0 {
		cfg.MaxAuthFailures = DefaultMaxAuthFailures
	}
	return &Server{
		cfg:       cfg,
		log:       cfg.Logger,
		pending:   netguard.NewLimiter(cfg.MaxUnauthenticated, cfg.MaxUnauthenticatedPerAddr),
		throttle:  netguard.NewThrottle(cfg.AuthThrottle),
		routes:    routes(),
		engines:   engines(cfg),
		host:      readHostInfo(),
		listeners: make(map[net.Listener]struct{}),
		sessions:  make(map[*session]struct{}),
	}, nil
}

// Serve accepts NDMP control connections on ln until Shutdown, then returns
// nil. Accept errors that pass (out of file descriptors, a connection
// aborted early) are retried after a pause of 5 ms doubling up to 1 s; any
// other is returned. Serve closes ln.
func (s *Server) Serve(ln net.Listener) error {
	if !s.track(ln) {
		ln.Close()
		return nil
	}
	defer s.untrack(ln)
	var backoff netguard.Backoff
	var warned time.Time // at most one accept warning a second
	for {
		c, err := ln.Accept()
		if err != nil {
			if s.isClosing() {
				return nil
			}
			if netguard.Temporary(err) {
				d := backoff.Next()
				if time.Since(warned) >= time.Second {
					warned = time.Now()
					s.log.Warn("ndmp: accept failed, retrying", "err", err, "retry_in", d)
				}
				time.Sleep(d)
				continue
			}
			return fmt.Errorf("server: accept: %w", err)
		}
		backoff.Reset()
		s.start(c)
	}
}

// countQuietly logs the first of a kind of event and then every 1000th,
// with the count: a burst must not flood the log.
func (s *Server) countQuietly(n *atomic.Int64, msg string, args ...any) {
	if k := n.Add(1); k%1000 == 1 {
		s.log.Warn(msg, append(args, "count", k)...)
	}
}

func (s *Server) track(ln net.Listener) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.listeners[ln] = struct{}{}
	return true
}

func (s *Server) untrack(ln net.Listener) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.listeners[ln]; ok {
		delete(s.listeners, ln)
		ln.Close()
	}
}

func (s *Server) isClosing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}

// start registers a session for c and runs it; during shutdown, or over
// a cap of unauthenticated connections, c is refused.
func (s *Server) start(c net.Conn) {
	sess := newSession(s, c)
	sess.slot = s.pending.Admit(c.RemoteAddr())
	if sess.slot == nil {
		s.countQuietly(&s.refused, "ndmp: connection refused: too many unauthenticated connections",
			"peer", c.RemoteAddr().String())
		sess.refuseNow("too many unauthenticated connections")
		return
	}
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		sess.slot.Release()
		sess.refuse()
		return
	}
	s.sessions[sess] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		defer s.forget(sess)
		sess.run()
	}()
}

func (s *Server) forget(sess *session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.sessions, sess)
}

// Shutdown stops accepting, sends NOTIFY_CONNECTION_STATUS(SHUTDOWN) to every
// session, stops their movers and data services, closes their drives and
// waits for them to end, or for ctx. On ctx's end the remaining connections
// are closed hard and ctx's error is returned.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	for ln := range s.listeners {
		ln.Close()
	}
	sessions := make([]*session, 0, len(s.sessions))
	for sess := range s.sessions {
		sessions = append(sessions, sess)
	}
	s.mu.Unlock()

	for _, sess := range sessions {
		sess.shutdown()
	}
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		for _, sess := range sessions {
			sess.conn.Close()
		}
		<-done
		return ctx.Err()
	}
}

// claimChanger makes sess the named changer's one SCSI session; false if
// another session holds it.
func (s *Server) claimChanger(name string, sess *session) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if o := s.changerOwners[name]; o != nil && o != sess {
		return false
	}
	if s.changerOwners == nil {
		s.changerOwners = map[string]*session{}
	}
	s.changerOwners[name] = sess
	return true
}

func (s *Server) releaseChanger(name string, sess *session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.changerOwners[name] == sess {
		delete(s.changerOwners, name)
	}
}
