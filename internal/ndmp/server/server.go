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
	"syscall"
	"time"

	"ferry/internal/library"
	"ferry/internal/ndmp/data"
	"ferry/internal/ndmp/wire"
)

// Config configures a Server.
type Config struct {
	Library     *library.Library
	Exports     []string          // absolute directories; only paths under them may be backed up or restored into
	Credentials map[string]string // user -> password (TEXT and MD5 auth)
	Logger      *slog.Logger

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
}

// DefaultAuthTimeout bounds the time to CONNECT_CLIENT_AUTH.
const DefaultAuthTimeout = 2 * time.Minute

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

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	sessions  map[*session]struct{}
	closing   bool
	// changerOwner is the session that has the changer open (SCSI_OPEN).
	changerOwner *session
	wg           sync.WaitGroup // one per live session
}

// New checks cfg and returns a Server that serves nothing until Serve.
func New(cfg Config) (*Server, error) {
	if cfg.Library == nil {
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
	return &Server{
		cfg:       cfg,
		log:       cfg.Logger,
		routes:    routes(),
		engines:   engines(cfg),
		host:      readHostInfo(),
		listeners: make(map[net.Listener]struct{}),
		sessions:  make(map[*session]struct{}),
	}, nil
}

// Serve accepts NDMP control connections on ln until Shutdown, then returns
// nil; any other accept failure is returned. Serve closes ln.
func (s *Server) Serve(ln net.Listener) error {
	if !s.track(ln) {
		ln.Close()
		return nil
	}
	defer s.untrack(ln)
	var backoff time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if s.isClosing() {
				return nil
			}
			if retryable(err) {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				s.log.Warn("ndmp: accept", "err", err, "retry_in", backoff)
				time.Sleep(backoff)
				continue
			}
			return fmt.Errorf("server: accept: %w", err)
		}
		backoff = 0
		s.start(c)
	}
}

// retryable reports accept errors that pass: timeouts, running out of file
// descriptors, a connection aborted before it was accepted.
func retryable(err error) bool {
	var ne net.Error
	return (errors.As(err, &ne) && ne.Timeout()) ||
		errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) ||
		errors.Is(err, syscall.ECONNABORTED) || errors.Is(err, syscall.ENOBUFS) || errors.Is(err, syscall.ENOMEM)
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

// start registers a session for c and runs it; during shutdown c is refused.
func (s *Server) start(c net.Conn) {
	sess := newSession(s, c)
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
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

// claimChanger makes s the changer's one SCSI session; false if another
// session holds it.
func (s *Server) claimChanger(sess *session) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.changerOwner != nil && s.changerOwner != sess {
		return false
	}
	s.changerOwner = sess
	return true
}

func (s *Server) releaseChanger(sess *session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.changerOwner == sess {
		s.changerOwner = nil
	}
}
