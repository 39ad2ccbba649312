package client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"ferry/internal/ndmp/wire"
	"ferry/internal/xdr"
)

// Defaults of Options.
const (
	DefaultTimeout     = 30 * time.Second
	DefaultDialTimeout = 30 * time.Second
	DefaultPostQueue   = 256
	closeGrace         = 2 * time.Second
)

// AuthMode selects how Dial authenticates.
type AuthMode int

// Authentication modes. AuthAuto uses MD5 when the agent offers it, else
// TEXT, else NONE.
const (
	AuthAuto AuthMode = iota
	AuthMD5
	AuthText
	AuthNone
)

// Options configure Dial.
type Options struct {
	User     string
	Password string
	Auth     AuthMode

	// Version is the highest protocol version to ask for (0 means 4);
	// Dial negotiates down to 3 when the agent refuses it.
	Version wire.Version

	// Timeout bounds each request without a timeout of its own (0:
	// DefaultTimeout). DialTimeout bounds the connect and handshake.
	Timeout     time.Duration
	DialTimeout time.Duration

	// Posts receives every post (NOTIFY_*, LOG_*, FH_*) in arrival order,
	// on one goroutine. It may call the Conn's methods but not Close.
	// Nil discards posts.
	Posts func(Post)

	// PostQueue is the number of undelivered posts at which the reader
	// stops reading while no call waits for a reply (0: DefaultPostQueue).
	PostQueue int

	// MaxRecord caps one incoming record (0: wire.DefaultMaxRecord).
	MaxRecord int
}

// Post is one message the agent sent unasked.
type Post struct {
	Header wire.Header
	Body   wire.Body // nil when Err is set
	Err    error     // why the body could not be decoded
}

// Conn is an NDMP control connection to one agent. Its methods are safe
// for concurrent use.
type Conn struct {
	nc      net.Conn
	opts    Options
	version atomic.Uint32
	offered wire.NotifyConnectionStatus

	wmu  sync.Mutex
	seq  uint32
	wbuf []byte

	mu      sync.Mutex
	cond    *sync.Cond
	pending map[uint32]chan reply
	waiting int
	posts   []Post
	rerr    error // why the reader stopped; nil while it runs
	closing bool

	readerDone  chan struct{}
	deliverDone chan struct{}
	closeOnce   sync.Once
}

// reply is a reply record handed from the reader to its caller.
type reply struct {
	h    wire.Header
	body []byte
	err  error
}

// Dial connects to an NDMP agent at addr (host:port), agrees on a
// protocol version and authenticates.
func Dial(ctx context.Context, addr string, o Options) (*Conn, error) {
	o = o.withDefaults()
	ctx, cancel := context.WithTimeout(ctx, o.DialTimeout)
	defer cancel()
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("client: dial %s: %w", addr, err)
	}
	c, err := newConn(ctx, nc, o)
	if err != nil {
		nc.Close()
		return nil, err
	}
	if err := c.handshake(ctx); err != nil {
		c.abort()
		return nil, err
	}
	return c, nil
}

func (o Options) withDefaults() Options {
	if o.Version == 0 {
		o.Version = wire.V4
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = DefaultDialTimeout
	}
	if o.PostQueue <= 0 {
		o.PostQueue = DefaultPostQueue
	}
	return o
}

// newConn reads the agent's NOTIFY_CONNECTION_STATUS and starts the
// reader and delivery goroutines.
func newConn(ctx context.Context, nc net.Conn, o Options) (*Conn, error) {
	c := &Conn{
		nc: nc, opts: o,
		pending:     make(map[uint32]chan reply),
		readerDone:  make(chan struct{}),
		deliverDone: make(chan struct{}),
	}
	c.cond = sync.NewCond(&c.mu)
	rr := wire.NewRecordReader(nc, o.MaxRecord)
	if err := c.readGreeting(ctx, rr); err != nil {
		return nil, err
	}
	c.version.Store(uint32(c.offered.ProtocolVersion))
	go c.readLoop(rr)
	go c.deliverLoop()
	return c, nil
}

// readGreeting reads the first message, which must be the agent's
// NOTIFY_CONNECTION_STATUS; REFUSED and SHUTDOWN end the dial.
func (c *Conn) readGreeting(ctx context.Context, rr *wire.RecordReader) error {
	if dl, ok := ctx.Deadline(); ok {
		c.nc.SetReadDeadline(dl)
	}
	defer c.nc.SetReadDeadline(time.Time{})
	rec, err := rr.Next()
	if err != nil {
		return fmt.Errorf("client: reading the agent's greeting: %w", err)
	}
	h, rest, err := wire.DecodeHeader(rec)
	if err != nil || h.Code != wire.CodeNotifyConnectionStatus || h.Type != wire.Request {
		return fmt.Errorf("%w: first message is %v, not NOTIFY_CONNECTION_STATUS", ErrProtocol, h.Code)
	}
	if err := decode(rest, &c.offered, wire.V4); err != nil {
		return fmt.Errorf("%w: NOTIFY_CONNECTION_STATUS: %v", ErrProtocol, err)
	}
	if r := c.offered.Reason; r != wire.ConnectionConnected {
		return fmt.Errorf("client: agent %v the connection: %s", r, c.offered.TextReason)
	}
	return nil
}

// decode decodes one whole body of version v.
func decode(b []byte, body wire.Body, v wire.Version) error {
	d := xdr.NewDecoder(b)
	body.DecodeXDR(d, v)
	if err := d.Err(); err != nil {
		return err
	}
	if d.Remaining() != 0 {
		return wire.ErrTrailingBytes
	}
	return nil
}

// Version returns the agreed protocol version.
func (c *Conn) Version() wire.Version { return wire.Version(c.version.Load()) }

// Offered returns the agent's NOTIFY_CONNECTION_STATUS greeting.
func (c *Conn) Offered() wire.NotifyConnectionStatus { return c.offered }

// RemoteAddr returns the agent's address.
func (c *Conn) RemoteAddr() net.Addr { return c.nc.RemoteAddr() }

// LocalAddr returns this end's address.
func (c *Conn) LocalAddr() net.Addr { return c.nc.LocalAddr() }

// Call sends request code with body req and decodes the reply into rep,
// waiting at most the connection's Timeout (and ctx). req may be nil for
// a bodiless request, rep nil to ignore the reply's body. An NDMP error in
// the reply header or body is returned as a *ReplyError; rep is filled in
// either way when the body decodes.
func (c *Conn) Call(ctx context.Context, code wire.Code, req, rep wire.Body) error {
	return c.CallTimeout(ctx, c.opts.Timeout, code, req, rep)
}

// CallTimeout is Call with its own timeout, for requests that take long
// (a robot move, spacing a real tape) or must fail fast.
func (c *Conn) CallTimeout(ctx context.Context, d time.Duration, code wire.Code, req, rep wire.Body) error {
	if d <= 0 {
		d = c.opts.Timeout
	}
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	seq, ch, err := c.send(ctx, code, req)
	if err != nil {
		return err
	}
	select {
	case r := <-ch:
		return c.finish(code, r, rep)
	case <-ctx.Done():
		c.forget(seq)
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return fmt.Errorf("%w: %v after %v", ErrTimeout, code, d)
		}
		return ctx.Err()
	}
}

// send registers a reply slot and writes the request.
func (c *Conn) send(ctx context.Context, code wire.Code, req wire.Body) (uint32, chan reply, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.seq++
	seq := c.seq
	ch := make(chan reply, 1)
	c.mu.Lock()
	if c.closing || c.rerr != nil {
		err := c.closedErr()
		c.mu.Unlock()
		return 0, nil, err
	}
	c.pending[seq] = ch
	c.waiting++
	c.cond.Broadcast()
	c.mu.Unlock()
	if err := c.write(ctx, seq, code, req); err != nil {
		c.forget(seq)
		return 0, nil, err
	}
	return seq, ch, nil
}

// write sends one request; the caller holds wmu. A failed write breaks
// the connection, since part of a record may have gone out.
func (c *Conn) write(ctx context.Context, seq uint32, code wire.Code, req wire.Body) error {
	h := wire.Header{Sequence: seq, Timestamp: uint32(time.Now().Unix()), Type: wire.Request, Code: code}
	c.wbuf = wire.AppendMessage(c.wbuf[:0], h, req, c.Version())
	if dl, ok := ctx.Deadline(); ok {
		c.nc.SetWriteDeadline(dl)
	}
	if _, err := c.nc.Write(c.wbuf); err != nil {
		c.nc.Close()
		return fmt.Errorf("client: sending %v: %w", code, err)
	}
	if cap(c.wbuf) > 1<<20 {
		c.wbuf = nil // do not pin a TAPE_WRITE-sized buffer
	}
	return nil
}

// forget drops the reply slot of a call that gave up.
func (c *Conn) forget(seq uint32) {
	c.mu.Lock()
	if _, ok := c.pending[seq]; ok {
		delete(c.pending, seq)
		c.waiting--
	}
	c.mu.Unlock()
}

// finish turns a reply into the caller's result.
func (c *Conn) finish(code wire.Code, r reply, rep wire.Body) error {
	if r.err != nil {
		return r.err
	}
	if r.h.Error != wire.ErrNone {
		return &ReplyError{Code: code, Err: r.h.Error, Header: true}
	}
	if rep == nil {
		return nil
	}
	if err := decode(r.body, rep, c.Version()); err != nil {
		return fmt.Errorf("%w: reply to %v: %v", ErrProtocol, code, err)
	}
	if e := bodyError(rep); e != wire.ErrNone {
		return &ReplyError{Code: code, Err: e}
	}
	return nil
}

func (c *Conn) closedErr() error {
	if c.rerr != nil && !errors.Is(c.rerr, ErrClosed) {
		return fmt.Errorf("%w: %v", ErrClosed, c.rerr)
	}
	return ErrClosed
}

// Close ends the session with CONNECT_CLOSE, waits briefly for the agent
// to hang up (a reply, as NDMJOB sends, is tolerated), closes the socket
// and waits until every queued post has been delivered.
func (c *Conn) Close() error {
	c.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), closeGrace)
		defer cancel()
		seq, ch, err := c.send(ctx, wire.CodeConnectClose, nil)
		if err == nil {
			select {
			case <-ch:
			case <-c.readerDone:
			case <-ctx.Done():
			}
			c.forget(seq)
		}
		c.shut()
	})
	<-c.readerDone
	<-c.deliverDone
	return nil
}

// abort closes the socket without CONNECT_CLOSE and waits for the
// goroutines (a failed Dial).
func (c *Conn) abort() {
	c.closeOnce.Do(c.shut)
	<-c.readerDone
	<-c.deliverDone
}

func (c *Conn) shut() {
	c.mu.Lock()
	c.closing = true
	c.cond.Broadcast()
	c.mu.Unlock()
	c.nc.Close()
}

// Done is closed when the connection has ended (Close, or the agent hung
// up); Err then says why.
func (c *Conn) Done() <-chan struct{} { return c.readerDone }

// Err returns why the connection ended, or nil while it is up.
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.rerr
}
