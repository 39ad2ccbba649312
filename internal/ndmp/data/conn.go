package data

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"strconv"

	"ferry/internal/ndmp/dataconn"
	"ferry/internal/ndmp/wire"
)

// Listen answers DATA_LISTEN: open an end point for a mover (or a peer data
// service) to connect to, TCP on Config.ListenIP with an ephemeral port or
// LOCAL on the session's Link.
func (s *Service) Listen(addrType wire.AddrType) (wire.Addr, error) {
	if err := s.checkAddrType(addrType); err != nil {
		return wire.Addr{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.st.State != wire.DataStateIdle {
		return wire.Addr{}, s.errFor(wire.ErrIllegalState)
	}
	o := &op{local: addrType == wire.AddrLocal}
	addr := wire.Addr{Type: wire.AddrLocal}
	if o.local {
		attach := func(c *dataconn.Conn) error { return s.attach(o, c) }
		if err := s.cfg.Link.Listen(dataconn.Data, attach); err != nil {
			return wire.Addr{}, s.errFor(wire.ErrIllegalState)
		}
	} else {
		ln, err := net.Listen("tcp4", net.JoinHostPort(s.listenIP().String(), "0"))
		if err != nil {
			return wire.Addr{}, s.errFor(wire.ErrConnect)
		}
		o.ln = ln
		addr = addrOf(ln.Addr())
		o.wg.Add(1)
		go s.accept(o)
	}
	s.op = o
	s.st.State = wire.DataStateListen
	s.st.DataConnectionAddr = addr
	return addr, nil
}

// Connect answers DATA_CONNECT: connect to a mover (or peer data service)
// listening at addr and go CONNECTED. TCP addresses are tried in order; ctx
// bounds the attempts.
func (s *Service) Connect(ctx context.Context, addr wire.Addr) error {
	if err := s.checkAddrType(addr.Type); err != nil {
		return err
	}
	if addr.Type == wire.AddrTCP && len(addr.TCP) == 0 {
		return s.errFor(wire.ErrIllegalArgs)
	}
	s.mu.Lock()
	idle := s.st.State == wire.DataStateIdle
	s.mu.Unlock()
	if !idle {
		return s.errFor(wire.ErrIllegalState)
	}
	conn, peer, err := s.dial(ctx, addr)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.st.State != wire.DataStateIdle {
		conn.Close()
		return s.errFor(wire.ErrIllegalState)
	}
	s.op = &op{local: addr.Type == wire.AddrLocal, conn: conn}
	s.st.State = wire.DataStateConnected
	s.st.DataConnectionAddr = peer
	return nil
}

// dial makes the data connection of a CONNECT, without the service's lock (a
// LOCAL mover's attach runs synchronously).
func (s *Service) dial(ctx context.Context, addr wire.Addr) (io.ReadWriteCloser, wire.Addr, error) {
	if addr.Type == wire.AddrLocal {
		c, err := s.cfg.Link.Connect(dataconn.Data)
		if err != nil {
			return nil, wire.Addr{}, s.errFor(wire.ErrIllegalState)
		}
		return c, wire.Addr{Type: wire.AddrLocal}, nil
	}
	var d net.Dialer
	for _, a := range addr.TCP {
		var ip [4]byte
		binary.BigEndian.PutUint32(ip[:], a.IP)
		c, err := d.DialContext(ctx, "tcp4", net.JoinHostPort(net.IP(ip[:]).String(), strconv.Itoa(int(a.Port))))
		if err == nil {
			return c, addrOf(c.RemoteAddr()), nil
		}
	}
	return nil, wire.Addr{}, s.errFor(wire.ErrConnect)
}

func (s *Service) checkAddrType(t wire.AddrType) error {
	switch {
	case t == wire.AddrTCP:
	case t == wire.AddrLocal && s.cfg.Link != nil:
	default:
		return s.errFor(wire.ErrIllegalArgs)
	}
	return nil
}

// accept takes the one connection a TCP LISTEN waits for. A START_* may have
// made the service ACTIVE already; the engine then waits for this connection.
func (s *Service) accept(o *op) {
	defer o.wg.Done()
	conn, err := o.ln.Accept()
	o.ln.Close()
	s.mu.Lock()
	waiting := s.st.State == wire.DataStateListen || s.st.State == wire.DataStateActive
	if s.op != o || !waiting {
		s.mu.Unlock()
		if conn != nil {
			conn.Close()
		}
		return
	}
	if err != nil {
		halted := s.haltLocked(wire.DataHaltConnectError)
		s.mu.Unlock()
		if halted {
			s.notifyHalted(wire.DataHaltConnectError)
		}
		return
	}
	s.connectedLocked(o, conn, addrOf(conn.RemoteAddr()))
	s.mu.Unlock()
}

// attach is the Link's callback when the session's mover connects to a data
// service in LISTEN(LOCAL).
func (s *Service) attach(o *op, c *dataconn.Conn) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.op != o || (s.st.State != wire.DataStateListen && s.st.State != wire.DataStateActive) {
		return s.errFor(wire.ErrIllegalState)
	}
	s.connectedLocked(o, c, wire.Addr{Type: wire.AddrLocal})
	return nil
}

func (s *Service) connectedLocked(o *op, c io.ReadWriteCloser, peer wire.Addr) {
	o.conn = c
	if s.st.State == wire.DataStateListen {
		s.st.State = wire.DataStateConnected
	}
	s.st.DataConnectionAddr = peer
	s.cond.Broadcast()
}

func (s *Service) listenIP() net.IP {
	if ip := s.cfg.ListenIP.To4(); ip != nil {
		return ip
	}
	return net.IPv4(127, 0, 0, 1)
}

// addrOf converts a TCP endpoint to an NDMP address of one element.
func addrOf(a net.Addr) wire.Addr {
	var ip net.IP
	if ta, ok := a.(*net.TCPAddr); ok {
		ip = ta.IP.To4()
	}
	if ip == nil {
		return wire.Addr{Type: wire.AddrTCP, TCP: []wire.TCPAddr{{}}}
	}
	port := uint16(a.(*net.TCPAddr).Port)
	return wire.Addr{Type: wire.AddrTCP, TCP: []wire.TCPAddr{{IP: binary.BigEndian.Uint32(ip), Port: port}}}
}
