// Package target is ferry's iSCSI target (RFC 7143, ERL 0): it accepts
// connections, runs login (CHAP one-way and mutual, operational
// negotiation), discovery sessions, and the full feature phase, handing
// each SCSI command to the scsi.Device of its logical unit.
//
// One goroutine reads each connection and owns its login, sequence
// numbers and Data-Out state; a bounded pool of workers per connection
// executes commands concurrently and writes their responses. Buffers on
// the data path are reused, so a READ allocates nothing once warm.
// docs/iscsi-target.md describes the behaviour and its limits.
package target

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"ferry/internal/iscsi"
	"ferry/internal/netguard"
	"ferry/internal/scsi"
	"ferry/internal/stats"
)

// Units is how the target finds its logical units. Implementations are
// safe for concurrent use; call Target.LUNsChanged when the set changes.
type Units interface {
	// LUNs lists the logical unit numbers, ascending.
	LUNs() []uint64
	// Unit returns the device of a LUN.
	Unit(lun uint64) (scsi.Device, bool)
}

// DataOutSizer is an optional ability of a unit's Device: the number of
// data-out bytes a CDB transfers, when the CDB is one that moves data-out.
// With it the target reports write residuals as SAM-5 and RFC 7143 want
// (underflow when the initiator offers more than the CDB needs, overflow
// when less) and hands the device at most that many bytes; a device that
// gets fewer than its CDB asks for writes the whole blocks it got.
type DataOutSizer interface {
	DataOutLength(cdb []byte) (int, bool)
}

// Resetter is an optional ability of a unit's Device: LOGICAL UNIT RESET
// and TARGET WARM/COLD RESET reach it (to drop RESERVE(6) reservations,
// for instance) after the unit's tasks are aborted.
type Resetter interface {
	Reset()
}

// NexusLoser is an optional ability of a unit's Device: the target tells
// it when an I_T nexus ends (logout, connection loss, session
// reinstatement), naming it as scsi.Command.Initiator did.
type NexusLoser interface {
	NexusLost(initiator string)
}

// Initiator is one entry of the access control list.
type Initiator struct {
	// Name is the initiator's iSCSI name (iqn.... or eui....).
	Name string
	// Secret, when set, makes CHAP mandatory for this initiator; User is
	// the CHAP_N it must send (default Name).
	User   string
	Secret []byte
	// TargetSecret, when set, lets the initiator authenticate the target
	// (mutual CHAP); it must differ from Secret.
	TargetSecret []byte
}

// Config configures a Target.
type Config struct {
	// Name is the target's iSCSI name (IQN); Alias is optional.
	Name, Alias string
	Units       Units
	// ACL lists the initiators allowed to log in when some portal is not
	// loopback (or RequireACL is set); on loopback-only targets anyone may
	// log in, but listed initiators with a Secret still must pass CHAP.
	ACL        []Initiator
	RequireACL bool
	// Sees, when set, masks LUNs: an initiator's sessions see only the
	// LUNs it returns true for. REPORT LUNS lists only those, a command
	// to another LUN gets LOGICAL UNIT NOT SUPPORTED as if it did not
	// exist, and UnitsOf (the copy manager's view) returns only those.
	// Nil: every session sees every LU.
	Sees func(initiator string, lun uint64) bool
	// Logger receives connection events; nil discards them.
	Logger *slog.Logger
	// Stats, if set, counts each session's commands, errors, latency and
	// bytes, in all and per LUN, for the management API's metrics.
	Stats *stats.Registry
	// Workers bounds the commands one connection executes at once
	// (default 32); QueueDepth is the CmdSN window per session (default 128).
	Workers, QueueDepth int
	// MaxRecvDataSegmentLength is what the target declares it accepts
	// (default 256 KiB); MaxBurstLength its limit for a burst (default 1 MiB).
	MaxRecvDataSegmentLength, MaxBurstLength uint32
	// MaxTransfer bounds a command's expected data transfer length for
	// writes, which the target buffers whole (default 64 MiB).
	MaxTransfer uint32
	// NOPInterval is how long a connection may stay silent before the
	// target pings it with a NOP-In; a connection that stays silent for
	// another interval is dropped, ending its I_T nexus (and so its
	// reservations). Default 30 s; negative turns pings off.
	NOPInterval time.Duration

	// LoginTimeout bounds a connection's whole login phase (default
	// 10 s). MaxPendingLogins caps the connections still in login at once
	// (default 256), MaxPendingLoginsPerAddr those of one client address
	// (default 32): a connection over a cap is closed as soon as it is
	// accepted, so idle sockets cannot use up the descriptors that
	// initiators logging in properly need.
	LoginTimeout                              time.Duration
	MaxPendingLogins, MaxPendingLoginsPerAddr int
	// AuthThrottle slows CHAP guessing: after failed logins, an address's
	// next CHAP check waits a backoff that doubles with each failure, and
	// failures are logged once per address and interval (zero fields:
	// netguard's defaults).
	AuthThrottle netguard.ThrottleConfig
}

// Defaults of the login guards.
const (
	DefaultLoginTimeout            = 10 * time.Second
	DefaultMaxPendingLogins        = 256
	DefaultMaxPendingLoginsPerAddr = 32
)

// Errors of the target.
var (
	ErrClosed  = errors.New("target: closed")
	ErrNoName  = errors.New("target: config needs an iSCSI name")
	ErrNoUnits = errors.New("target: config needs Units")
	ErrBadACL  = errors.New("target: ACL entry without a name or with a short secret")
)

// Target is an iSCSI target. Its methods are safe for concurrent use.
type Target struct {
	cfg Config
	log *slog.Logger

	pending  *netguard.Limiter // connections still in login
	throttle *netguard.Throttle
	refused  atomic.Int64 // connections closed over the pending caps

	wg         sync.WaitGroup
	epoch      time.Time    // monotonic base of connection activity times
	coldResets atomic.Int64 // TARGET COLD RESETs done: every session dropped

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[*conn]struct{}
	sessions  map[uint16]*session // by TSIH
	nextTSIH  uint16
	closed    bool
	nonLoop   atomic.Bool // some portal is not loopback
}

// New checks cfg and returns a Target.
func New(cfg Config) (*Target, error) {
	if cfg.Name == "" {
		return nil, ErrNoName
	}
	if cfg.Units == nil {
		return nil, ErrNoUnits
	}
	for _, a := range cfg.ACL {
		if a.Name == "" || (a.Secret != nil && iscsi.CheckCHAPSecret(a.Secret) != nil) {
			return nil, ErrBadACL
		}
	}
	setDefaults(&cfg)
	return &Target{
		cfg: cfg, log: cfg.Logger, epoch: time.Now(),
		pending:   netguard.NewLimiter(cfg.MaxPendingLogins, cfg.MaxPendingLoginsPerAddr),
		throttle:  netguard.NewThrottle(cfg.AuthThrottle),
		listeners: map[net.Listener]struct{}{}, conns: map[*conn]struct{}{},
		sessions: map[uint16]*session{},
	}, nil
}

func setDefaults(c *Config) {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Workers <= 0 {
		c.Workers = 32
	}
	if c.QueueDepth <= 0 {
		c.QueueDepth = 128
	}
	if c.MaxRecvDataSegmentLength == 0 {
		c.MaxRecvDataSegmentLength = 256 << 10
	}
	if c.MaxBurstLength == 0 {
		c.MaxBurstLength = 1 << 20
	}
	if c.MaxTransfer == 0 {
		c.MaxTransfer = 64 << 20
	}
	if c.NOPInterval == 0 {
		c.NOPInterval = 30 * time.Second
	}
	if c.LoginTimeout <= 0 {
		c.LoginTimeout = DefaultLoginTimeout
	}
	if c.MaxPendingLogins <= 0 {
		c.MaxPendingLogins = DefaultMaxPendingLogins
	}
	if c.MaxPendingLoginsPerAddr <= 0 {
		c.MaxPendingLoginsPerAddr = DefaultMaxPendingLoginsPerAddr
	}
}

// Name returns the target's iSCSI name.
func (t *Target) Name() string { return t.cfg.Name }

// Serve accepts connections on ln until Shutdown, serving each in its own
// goroutine. It returns ErrClosed after Shutdown. Accept errors that pass
// (out of file descriptors, a connection aborted early) are retried after
// a pause of 5 ms doubling up to 1 s; any other is returned.
func (t *Target) Serve(ln net.Listener) error {
	if err := t.addListener(ln); err != nil {
		return err
	}
	defer t.removeListener(ln)
	var backoff netguard.Backoff
	var warned time.Time // at most one accept warning a second
	for {
		nc, err := ln.Accept()
		if err != nil {
			if t.isClosed() {
				return ErrClosed
			}
			if netguard.Temporary(err) {
				d := backoff.Next()
				if time.Since(warned) >= time.Second {
					warned = time.Now()
					t.log.Warn("iscsi accept failed, retrying", "err", err, "retry_in", d)
				}
				time.Sleep(d)
				continue
			}
			return fmt.Errorf("target: accept: %w", err)
		}
		backoff.Reset()
		t.startConn(nc)
	}
}

func (t *Target) isClosed() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.closed
}

func (t *Target) addListener(ln net.Listener) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return ErrClosed
	}
	t.listeners[ln] = struct{}{}
	if !isLoopback(ln.Addr()) {
		t.nonLoop.Store(true)
	}
	return nil
}

func (t *Target) removeListener(ln net.Listener) {
	t.mu.Lock()
	delete(t.listeners, ln)
	t.mu.Unlock()
}

func isLoopback(a net.Addr) bool {
	ta, ok := a.(*net.TCPAddr)
	return ok && ta.IP.IsLoopback()
}

// startConn serves a new connection, unless it is over a cap of
// connections in login: then it is closed at once.
func (t *Target) startConn(nc net.Conn) {
	slot := t.pending.Admit(nc.RemoteAddr())
	if slot == nil {
		// Logged at the first and then every 1000th, not per connection.
		if n := t.refused.Add(1); n%1000 == 1 {
			t.log.Warn("iscsi connection refused: too many connections in login",
				"remote", nc.RemoteAddr().String(), "refused", n)
		}
		nc.Close()
		return
	}
	c := newConn(t, nc)
	c.slot = slot
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		slot.Release()
		nc.Close()
		return
	}
	t.conns[c] = struct{}{}
	t.wg.Add(1)
	t.mu.Unlock()
	go func() {
		defer t.wg.Done()
		c.serve()
		t.mu.Lock()
		delete(t.conns, c)
		t.mu.Unlock()
	}()
}

// Shutdown stops accepting, ends every connection once its running
// commands have answered, and waits for that or for ctx.
func (t *Target) Shutdown(ctx context.Context) error {
	t.mu.Lock()
	t.closed = true
	for ln := range t.listeners {
		ln.Close()
	}
	for c := range t.conns {
		c.stop()
	}
	t.mu.Unlock()
	done := make(chan struct{})
	go func() { t.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		t.mu.Lock()
		for c := range t.conns {
			c.nc.Close()
		}
		t.mu.Unlock()
		<-done
		return ctx.Err()
	}
}

// LUNsChanged tells every session that the set of logical units changed:
// each gets REPORTED LUNS DATA HAS CHANGED on its next command.
func (t *Target) LUNsChanged() {
	t.mu.Lock()
	ss := make([]*session, 0, len(t.sessions))
	for _, s := range t.sessions {
		ss = append(ss, s)
	}
	t.mu.Unlock()
	for _, s := range ss {
		s.lunsChanged()
	}
}

// sees reports whether an initiator may address a LUN (Config.Sees).
func (t *Target) sees(initiator string, lun uint64) bool {
	return t.cfg.Sees == nil || t.cfg.Sees(initiator, lun)
}

// lookupInitiator returns the ACL entry of an initiator name.
func (t *Target) lookupInitiator(name string) (Initiator, bool) {
	for _, a := range t.cfg.ACL {
		if a.Name == name {
			return a, true
		}
	}
	return Initiator{}, false
}

// mayLogin reports whether an initiator may log in, and the ACL entry
// (with CHAP secrets) that applies.
func (t *Target) mayLogin(name string) (Initiator, bool) {
	a, ok := t.lookupInitiator(name)
	if ok {
		return a, true
	}
	return Initiator{}, !t.nonLoop.Load() && !t.cfg.RequireACL
}

// resetAll raises a unit attention on every session's LUNs (target reset).
func (t *Target) resetAll(asc, ascq uint8, except *session) {
	t.mu.Lock()
	ss := make([]*session, 0, len(t.sessions))
	for _, s := range t.sessions {
		ss = append(ss, s)
	}
	t.mu.Unlock()
	for _, s := range ss {
		s.abortAll(except)
		s.raiseAll(scsi.UnitAttentionSense(asc, ascq))
	}
	for _, lun := range t.cfg.Units.LUNs() {
		t.resetUnit(lun)
	}
}

// resetUnit tells a unit's device about a reset, if it listens.
func (t *Target) resetUnit(lun uint64) {
	if dev, ok := t.cfg.Units.Unit(lun); ok {
		if r, ok := dev.(Resetter); ok {
			r.Reset()
		}
	}
}

// nexusLost tells every unit that listens that an I_T nexus ended.
func (t *Target) nexusLost(initiator string) {
	for _, lun := range t.cfg.Units.LUNs() {
		if dev, ok := t.cfg.Units.Unit(lun); ok {
			if n, ok := dev.(NexusLoser); ok {
				n.NexusLost(initiator)
			}
		}
	}
}

// resetLUN aborts the LUN's tasks in every session and raises a unit
// attention on it in every session.
func (t *Target) resetLUN(lun uint64) {
	t.mu.Lock()
	ss := make([]*session, 0, len(t.sessions))
	for _, s := range t.sessions {
		ss = append(ss, s)
	}
	t.mu.Unlock()
	for _, s := range ss {
		s.abortLUN(lun)
		s.raise(lun, scsi.UnitAttentionSense(0x29, 0x03))
	}
	t.resetUnit(lun)
}
