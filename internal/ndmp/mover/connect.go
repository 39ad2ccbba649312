package mover

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strconv"
	"syscall"

	"ferry/internal/ndmp/dataconn"
	"ferry/internal/ndmp/wire"
)

// Listen answers MOVER_LISTEN: open a data connection end point (TCP on
// Config.ListenIP with an ephemeral port, or LOCAL on the session's Link) and
// return its address. t is the session's open tape, nil when none is open.
func (m *Mover) Listen(mode wire.MoverMode, addrType wire.AddrType, t Tape) (wire.Addr, error) {
	if err := m.checkArgs(mode, addrType); err != nil {
		return wire.Addr{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.checkStartLocked(mode, t); err != nil {
		return wire.Addr{}, err
	}
	r := m.newRun(mode, t)
	addr := wire.Addr{Type: wire.AddrLocal}
	if addrType == wire.AddrLocal {
		r.local = true
		attach := func(c *dataconn.Conn) error { return m.attach(r, c) }
		if err := m.cfg.Link.Listen(dataconn.Mover, attach); err != nil {
			return wire.Addr{}, m.errFor(wire.ErrIllegalState)
		}
	} else {
		ln, err := net.Listen("tcp4", net.JoinHostPort(m.listenIP().String(), "0"))
		if err != nil {
			return wire.Addr{}, m.errFor(wire.ErrConnect)
		}
		r.ln = ln
		addr = addrOf(ln.Addr())
	}
	m.start(r, wire.MoverStateListen, addr)
	return addr, nil
}

// Connect answers MOVER_CONNECT: connect to a data service (or a peer mover)
// listening at addr and go ACTIVE. TCP addresses are tried in order until one
// answers; ctx bounds the attempts. t is the session's open tape or nil.
func (m *Mover) Connect(ctx context.Context, mode wire.MoverMode, addr wire.Addr, t Tape) error {
	if err := m.checkArgs(mode, addr.Type); err != nil {
		return err
	}
	if addr.Type == wire.AddrTCP && len(addr.TCP) == 0 {
		return m.errFor(wire.ErrIllegalArgs)
	}
	m.mu.Lock()
	err := m.checkStartLocked(mode, t)
	m.mu.Unlock()
	if err != nil {
		return err
	}
	conn, peer, err := m.dial(ctx, addr)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.st.State != wire.MoverStateIdle {
		conn.Close()
		return m.errFor(wire.ErrIllegalState)
	}
	r := m.newRun(mode, t)
	r.conn = conn
	r.local = addr.Type == wire.AddrLocal
	m.start(r, wire.MoverStateActive, peer)
	return nil
}

// dial makes the data connection of a CONNECT, without the mover's lock (the
// LOCAL peer's attach runs synchronously).
func (m *Mover) dial(ctx context.Context, addr wire.Addr) (io.ReadWriteCloser, wire.Addr, error) {
	if addr.Type == wire.AddrLocal {
		c, err := m.cfg.Link.Connect(dataconn.Mover)
		if err != nil {
			return nil, wire.Addr{}, m.errFor(wire.ErrIllegalState)
		}
		return c, wire.Addr{Type: wire.AddrLocal}, nil
	}
	c, err := dialTCP(ctx, addr.TCP)
	if err != nil {
		return nil, wire.Addr{}, m.errFor(wire.ErrConnect)
	}
	return c, addrOf(c.RemoteAddr()), nil
}

// dialTCP connects to the first address of list that answers.
func dialTCP(ctx context.Context, list []wire.TCPAddr) (net.Conn, error) {
	var d net.Dialer
	err := errors.New("mover: no address")
	for _, a := range list {
		var ip [4]byte
		binary.BigEndian.PutUint32(ip[:], a.IP)
		hostport := net.JoinHostPort(net.IP(ip[:]).String(), strconv.Itoa(int(a.Port)))
		var c net.Conn
		if c, err = d.DialContext(ctx, "tcp4", hostport); err == nil {
			return c, nil
		}
	}
	return nil, err
}

// checkArgs applies the argument checks LISTEN and CONNECT make first.
func (m *Mover) checkArgs(mode wire.MoverMode, addrType wire.AddrType) error {
	if mode != wire.MoverModeRead && mode != wire.MoverModeWrite {
		return m.errFor(wire.ErrIllegalArgs)
	}
	switch {
	case addrType == wire.AddrTCP:
	case addrType == wire.AddrLocal && m.cfg.Link != nil:
	default:
		return m.errFor(wire.ErrIllegalArgs)
	}
	return nil
}

// checkStartLocked applies the state, tape and window rules of LISTEN and
// CONNECT (spec §3.6.2.3-4).
func (m *Mover) checkStartLocked(mode wire.MoverMode, t Tape) error {
	if m.st.State != wire.MoverStateIdle {
		return m.errFor(wire.ErrIllegalState)
	}
	if err := m.checkTape(mode, t); err != nil {
		return err
	}
	if !windowFits(mode, m.st.WindowOffset, m.st.WindowLength, m.st.RecordSize) {
		if m.cfg.Version < wire.V4 {
			return m.errFor(wire.ErrIllegalArgs)
		}
		return m.errFor(wire.ErrPrecondition)
	}
	return nil
}

func (m *Mover) newRun(mode wire.MoverMode, t Tape) *run {
	return &run{mode: mode, tape: t, recSize: int(m.st.RecordSize), done: make(chan struct{})}
}

// start makes r the current run in state st and starts its goroutine.
func (m *Mover) start(r *run, st wire.MoverState, addr wire.Addr) {
	m.run = r
	m.st.State = st
	m.st.Mode = r.mode
	m.st.HaltReason, m.st.PauseReason = wire.MoverHaltNA, wire.MoverPauseNA
	m.st.DataConnectionAddr = addr
	go m.serve(r)
}

func (m *Mover) listenIP() net.IP {
	if ip := m.cfg.ListenIP.To4(); ip != nil {
		return ip
	}
	return net.IPv4(127, 0, 0, 1)
}

// addrOf converts a TCP endpoint to an NDMP address of one element.
func addrOf(a net.Addr) wire.Addr {
	var ip net.IP
	ta, ok := a.(*net.TCPAddr)
	if ok {
		ip = ta.IP.To4()
	}
	if ip == nil {
		return wire.Addr{Type: wire.AddrTCP, TCP: []wire.TCPAddr{{}}}
	}
	return wire.Addr{Type: wire.AddrTCP, TCP: []wire.TCPAddr{{IP: binary.BigEndian.Uint32(ip), Port: uint16(ta.Port)}}}
}

// attach is the Link's callback when the data service connects to a mover in
// LISTEN(LOCAL).
func (m *Mover) attach(r *run, c *dataconn.Conn) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.run != r || m.st.State != wire.MoverStateListen {
		return m.errFor(wire.ErrIllegalState)
	}
	r.conn = c
	m.st.State = wire.MoverStateActive
	m.cond.Broadcast()
	return nil
}

// serve is the goroutine of one run: it waits for the data connection, copies,
// and leaves the connection closed.
func (m *Mover) serve(r *run) {
	defer close(r.done)
	if !m.awaitConn(r) {
		return
	}
	if r.mode == wire.MoverModeRead {
		m.backup(r)
	} else {
		m.restore(r)
	}
	m.mu.Lock()
	r.closeIO()
	m.mu.Unlock()
}

// awaitConn waits in LISTEN for the peer and reports whether the run is ACTIVE.
func (m *Mover) awaitConn(r *run) bool {
	if r.ln != nil {
		return m.accept(r)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for m.run == r && m.st.State == wire.MoverStateListen {
		m.cond.Wait()
	}
	return m.run == r && m.st.State != wire.MoverStateHalted
}

// accept takes the one TCP connection a LISTEN waits for.
func (m *Mover) accept(r *run) bool {
	conn, err := r.ln.Accept()
	r.ln.Close()
	m.mu.Lock()
	if m.run != r || m.st.State != wire.MoverStateListen {
		m.mu.Unlock()
		if conn != nil {
			conn.Close()
		}
		return false
	}
	if err != nil {
		m.mu.Unlock()
		m.halt(r, wire.MoverHaltConnectError)
		return false
	}
	r.conn = conn
	m.st.State = wire.MoverStateActive
	m.st.DataConnectionAddr = addrOf(conn.RemoteAddr())
	m.mu.Unlock()
	return true
}

// connDone halts the run after its data connection ended with err: a close by
// the peer is CONNECT_CLOSED, anything else CONNECT_ERROR. Nothing happens when
// the mover already halted (an ABORT closing the connection, say).
func (m *Mover) connDone(r *run, err error) {
	reason := wire.MoverHaltConnectError
	if closedByPeer(err) {
		reason = wire.MoverHaltConnectClosed
	}
	m.halt(r, reason)
}

func closedByPeer(err error) bool {
	return err == nil || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, io.ErrClosedPipe) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}
