// Package initiator is a small iSCSI initiator (RFC 7143, ERL 0): login
// with optional CHAP (one-way or mutual), discovery, and concurrent SCSI
// commands with immediate data, unsolicited data and R2T, over one
// connection. ferry's tests, its DMA and its copy manager use it to reach
// iSCSI targets.
package initiator

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"ferry/internal/iscsi"
)

// CHAP holds the secrets of CHAP authentication.
type CHAP struct {
	User   string // CHAP_N; default the initiator name
	Secret []byte // the initiator's secret, which the target checks
	// TargetSecret, when set, makes the initiator check the target too
	// (mutual CHAP).
	TargetSecret []byte
}

// Config configures a session.
type Config struct {
	InitiatorName string // default iqn.2026-01.dev.ferry:initiator
	// TargetName is the target to log in to; empty for discovery.
	TargetName               string
	ISID                     [6]byte // default random (random qualifier format)
	CHAP                     *CHAP
	HeaderDigest, DataDigest bool
	// MaxRecvDataSegmentLength is what the initiator accepts (default 256 KiB).
	MaxRecvDataSegmentLength uint32
	// InitialR2T and no ImmediateData make every write wait for R2Ts
	// (off by default: writes send what the target allows at once).
	InitialR2T, NoImmediateData bool
	// MaxBurstLength and FirstBurstLength offered (defaults 1 MiB, 256 KiB).
	MaxBurstLength, FirstBurstLength uint32
	// MaxOutstandingR2T offered (default 8).
	MaxOutstandingR2T uint32
}

// LoginError is a login the target refused.
type LoginError struct {
	Class, Detail uint8
}

// Error names the status class and detail.
func (e *LoginError) Error() string {
	return fmt.Sprintf("initiator: login refused: status class %d detail 0x%02x", e.Class, e.Detail)
}

// Errors of the initiator.
var (
	ErrClosed        = errors.New("initiator: session closed")
	ErrRejected      = errors.New("initiator: target rejected the PDU")
	ErrProtocol      = errors.New("initiator: target broke the protocol")
	ErrTargetAuth    = errors.New("initiator: target failed mutual CHAP")
	ErrLoginStalled  = errors.New("initiator: login did not reach full feature phase")
	ErrAborted       = errors.New("initiator: command aborted by task management")
	ErrBidirectional = errors.New("initiator: bidirectional commands are not supported")
)

// Session is one logged-in session over one connection. Its methods are
// safe for concurrent use.
type Session struct {
	cfg    Config
	nc     net.Conn
	r      *iscsi.Reader
	params iscsi.Params
	tsih   uint16

	wmu sync.Mutex
	w   *iscsi.Writer
	hdr iscsi.BHS
	vec vec

	mu        sync.Mutex
	cond      *sync.Cond
	itt       uint32
	cmdSN     uint32
	expStatSN uint32
	maxCmdSN  uint32
	tasks     map[uint32]*call
	err       error // sticky: the connection is gone

	done chan struct{}
}

func (c *Config) defaults() {
	if c.InitiatorName == "" {
		c.InitiatorName = "iqn.2026-01.dev.ferry:initiator"
	}
	if c.ISID == [6]byte{} {
		rand.Read(c.ISID[1:])
		c.ISID[0] = 0x80 // random qualifier format
	}
	if c.MaxRecvDataSegmentLength == 0 {
		c.MaxRecvDataSegmentLength = 256 << 10
	}
	if c.MaxBurstLength == 0 {
		c.MaxBurstLength = 1 << 20
	}
	if c.FirstBurstLength == 0 {
		c.FirstBurstLength = 256 << 10
	}
	if c.MaxOutstandingR2T == 0 {
		c.MaxOutstandingR2T = 8
	}
}

// Dial connects to addr and logs in. The context bounds the login only.
func Dial(ctx context.Context, addr string, cfg Config) (*Session, error) {
	cfg.defaults()
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		nc.SetDeadline(dl)
	}
	s := &Session{cfg: cfg, nc: nc, r: iscsi.NewReader(nc), w: iscsi.NewWriter(nc),
		tasks: map[uint32]*call{}, done: make(chan struct{}), params: iscsi.DefaultParams()}
	s.cond = sync.NewCond(&s.mu)
	if err := s.login(); err != nil {
		nc.Close()
		return nil, err
	}
	nc.SetDeadline(time.Time{})
	go s.readLoop()
	return s, nil
}

// Done is closed when the session's connection has ended (logout, loss);
// Err then says why.
func (s *Session) Done() <-chan struct{} { return s.done }

// Err returns why the session ended, or nil while it runs.
func (s *Session) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Params returns the session's negotiated parameters.
func (s *Session) Params() iscsi.Params { return s.params }

// TSIH returns the session handle the target assigned.
func (s *Session) TSIH() uint16 { return s.tsih }

// Target is one target a discovery session reported.
type Target struct {
	Name      string
	Addresses []string // "host:port,tag"
}

// Discover opens a discovery session on addr, asks SendTargets=All and
// logs out.
func Discover(ctx context.Context, addr string, cfg Config) ([]Target, error) {
	cfg.TargetName = ""
	s, err := Dial(ctx, addr, cfg)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	kvs, err := s.Text(ctx, []iscsi.KV{{Key: "SendTargets", Value: "All"}})
	if err != nil {
		return nil, err
	}
	var ts []Target
	for _, kv := range kvs {
		switch {
		case kv.Key == "TargetName":
			ts = append(ts, Target{Name: kv.Value})
		case kv.Key == "TargetAddress" && len(ts) > 0:
			ts[len(ts)-1].Addresses = append(ts[len(ts)-1].Addresses, kv.Value)
		}
	}
	return ts, nil
}

func itoa(n uint32) string { return strconv.FormatUint(uint64(n), 10) }
