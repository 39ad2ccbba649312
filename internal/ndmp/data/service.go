// Package data is the NDMP data service: the state machine of spec §3.5 that
// runs a backup method (an Engine) over a data connection to a mover or a
// peer data service.
//
// One Service belongs to one NDMP session, whose goroutine calls its request
// methods one at a time; each returns nil or an error that is (or wraps) a
// wire.Error fit for the session's version. The backup methods themselves are
// registered through Config.Engines; with none for a butype, DATA_START_*
// fails with ILLEGAL_ARGS and says so.
//
//	IDLE --LISTEN--> LISTEN --peer connects--> CONNECTED
//	IDLE --CONNECT--> CONNECTED --START_BACKUP/RECOVER/RECOVER_FILEHIST--> ACTIVE
//	ACTIVE --method returns--> HALTED (SUCCESSFUL, INTERNAL_ERROR, CONNECT_ERROR)
//	LISTEN/CONNECTED/ACTIVE --ABORT--> HALTED (ABORTED)
//	HALTED --STOP--> IDLE
//
// docs/ndmp-data.md has the full transition table.
package data

import (
	"context"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"ferry/internal/ndmp/dataconn"
	"ferry/internal/ndmp/wire"
)

// Config is what a session gives its Service.
type Config struct {
	// Version is the session's protocol version.
	Version wire.Version
	// Notify posts NOTIFY_DATA_HALTED, NOTIFY_DATA_READ and the engines'
	// file history and log posts. It is called from the service's goroutines
	// as well as the caller's, never with the service's lock held.
	Notify func(code wire.Code, body wire.Body)
	// ListenIP is the IPv4 address TCP listens bind to and advertise. Nil:
	// 127.0.0.1.
	ListenIP net.IP
	// Link joins the service to the session's mover for NDMP_ADDR_LOCAL. Nil:
	// LOCAL addresses are refused with ILLEGAL_ARGS.
	Link *dataconn.Link
	// Engines maps butype names to backup methods.
	Engines map[string]Engine
	// Checksums reports whether the DMA selected ferry's extension class,
	// so backups post FERRY_FH_ADD_CHECKSUMS (nil: never).
	Checksums func() bool
}

// Service is one session's NDMP data service.
type Service struct {
	cfg   Config
	mu    sync.Mutex
	cond  sync.Cond // broadcast when the operation's connection arrives or it halts
	st    wire.DataGetStateReply
	bytes atomic.Uint64 // bytes_processed, counted by the stream wrappers
	env   env
	op    *op               // the current LISTEN/CONNECT..STOP cycle; nil in IDLE
	sums  []wire.FhChecksum // FERRY_RECOVER_ADD_CHECKSUMS for the next recover
}

// op is one data connection's worth of work.
type op struct {
	local   bool
	ln      net.Listener       // LISTEN(TCP) until the peer connects
	conn    io.ReadWriteCloser // the data connection once there is one
	cancel  context.CancelFunc // stops the engine
	connErr atomic.Bool        // the data connection failed under the engine
	wg      sync.WaitGroup     // the op's goroutines
}

// New returns an IDLE data service.
func New(cfg Config) *Service {
	s := &Service{cfg: cfg}
	s.cond.L = &s.mu
	s.resetLocked()
	return s
}

func (s *Service) resetLocked() {
	s.st = wire.DataGetStateReply{
		Unsupported:        wire.DataStateEstBytesRemainUnsupported | wire.DataStateEstTimeRemainUnsupported,
		Operation:          wire.DataOpNoAction,
		State:              wire.DataStateIdle,
		HaltReason:         wire.DataHaltNA,
		DataConnectionAddr: wire.Addr{Type: wire.AddrLocal},
	}
	s.bytes.Store(0)
	s.env.reset(nil)
	s.op = nil
	s.sums = nil
}

func (s *Service) errFor(e wire.Error) error { return e.For(s.cfg.Version) }

// GetState answers DATA_GET_STATE. Estimates are marked unsupported until the
// running method publishes them.
func (s *Service) GetState() wire.DataGetStateReply {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.st
	st.BytesProcessed = s.bytes.Load()
	return st
}

// GetEnv answers DATA_GET_ENV: the operation's environment, in ACTIVE or
// HALTED.
func (s *Service) GetEnv() ([]wire.PVal, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.st.State != wire.DataStateActive && s.st.State != wire.DataStateHalted {
		return nil, s.errFor(wire.ErrIllegalState)
	}
	return s.env.get(), nil
}

// Abort answers DATA_ABORT: any state but IDLE; HALTED stays as it is.
func (s *Service) Abort() error {
	s.mu.Lock()
	if s.st.State == wire.DataStateIdle {
		s.mu.Unlock()
		return s.errFor(wire.ErrIllegalState)
	}
	halted := s.haltLocked(wire.DataHaltAborted)
	s.mu.Unlock()
	if halted {
		s.notifyHalted(wire.DataHaltAborted)
	}
	return nil
}

// Stop answers DATA_STOP: HALTED only. It waits for the operation's goroutines
// and resets every state variable and the environment.
func (s *Service) Stop() error {
	s.mu.Lock()
	if s.st.State != wire.DataStateHalted {
		s.mu.Unlock()
		return s.errFor(wire.ErrIllegalState)
	}
	o := s.op
	s.mu.Unlock()
	if o != nil {
		o.wg.Wait()
	}
	s.mu.Lock()
	s.resetLocked()
	s.mu.Unlock()
	return nil
}

// Shutdown halts whatever runs, without posting, and waits for the service's
// goroutines.
func (s *Service) Shutdown() {
	s.mu.Lock()
	s.haltLocked(wire.DataHaltAborted)
	o := s.op
	s.mu.Unlock()
	if o != nil {
		o.wg.Wait()
	}
}

// haltLocked enters HALTED for reason: it stops the engine and closes the data
// connection. It reports whether the state changed.
func (s *Service) haltLocked(reason wire.DataHaltReason) bool {
	if s.st.State == wire.DataStateIdle || s.st.State == wire.DataStateHalted {
		return false
	}
	if o := s.op; o != nil {
		if s.st.State == wire.DataStateListen && o.local {
			s.cfg.Link.Unlisten(dataconn.Data)
		}
		if o.cancel != nil {
			o.cancel()
		}
		if o.ln != nil {
			o.ln.Close()
		}
		if o.conn != nil {
			o.conn.Close()
		}
	}
	s.st.State = wire.DataStateHalted
	s.st.HaltReason = reason
	s.cond.Broadcast()
	return true
}

func (s *Service) notify(code wire.Code, body wire.Body) {
	if s.cfg.Notify != nil {
		s.cfg.Notify(code, body)
	}
}

func (s *Service) notifyHalted(reason wire.DataHaltReason) {
	s.notify(wire.CodeNotifyDataHalted, &wire.NotifyDataHalted{Reason: reason, TextReason: reason.String()})
}

// readRequested records a read request for GET_STATE's read_offset/length.
func (s *Service) readRequested(offset, length uint64) {
	s.mu.Lock()
	s.st.ReadOffset, s.st.ReadLength = offset, length
	s.mu.Unlock()
}

func (s *Service) estimate(bytesRemain uint64, timeRemain time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st.EstBytesRemain = bytesRemain
	s.st.Unsupported &^= wire.DataStateEstBytesRemainUnsupported
	if timeRemain > 0 {
		s.st.EstTimeRemain = uint32(min(timeRemain/time.Second, 1<<32-1))
		s.st.Unsupported &^= wire.DataStateEstTimeRemainUnsupported
	}
}
