package server

import (
	"context"
	"net"
	"slices"
	"time"

	"ferry/internal/ndmp/data"
	"ferry/internal/ndmp/dataconn"
	"ferry/internal/ndmp/mover"
	"ferry/internal/ndmp/wire"
)

// connectTimeout bounds MOVER_CONNECT and DATA_CONNECT dialing.
const connectTimeout = 30 * time.Second

// services are a session's mover and data service and the LOCAL link
// between them, created on first use, when the version is settled.
type services struct {
	link  *dataconn.Link
	mover *mover.Mover
	data  *data.Service
}

func (s *session) services() *services {
	if s.svc == nil {
		link := dataconn.NewLink(0)
		notify := func(code wire.Code, body wire.Body) {
			if err := s.out.post(code, body); err != nil {
				s.log.Debug("ndmp: post", "code", code, "err", err)
			}
		}
		s.svc = &services{
			link: link,
			mover: mover.New(mover.Config{
				Version:  s.version,
				Notify:   notify,
				ListenIP: localIPv4(s.conn),
				Link:     link,
			}),
			data: data.New(data.Config{
				Version:   s.version,
				Notify:    notify,
				ListenIP:  localIPv4(s.conn),
				Link:      link,
				Engines:   s.srv.engines,
				Checksums: s.ext.checksums.Load,
			}),
		}
	}
	return s.svc
}

// shutdown halts the data service and the mover and waits for their
// goroutines.
func (svc *services) shutdown() {
	svc.data.Shutdown()
	svc.mover.Shutdown()
}

// localIPv4 is the address TCP listens bind to and advertise: the
// control connection's local address when it is IPv4. NDMP v4 addresses
// are IPv4 only, so a session over IPv6 gets an IPv4 address of the
// interface it arrived on, else of any other interface that is up; nil
// (127.0.0.1) when it arrived on loopback or the host has none.
func localIPv4(c net.Conn) net.IP {
	a, ok := c.LocalAddr().(*net.TCPAddr)
	if !ok {
		return nil
	}
	if ip := a.IP.To4(); ip != nil && !ip.IsUnspecified() {
		return ip
	}
	if a.IP.IsLoopback() {
		return nil
	}
	ifs, err := net.Interfaces()
	if err != nil {
		return nil
	}
	var hosts []hostIface
	for _, ifc := range ifs {
		if ifc.Flags&net.FlagUp == 0 || ifc.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, _ := ifc.Addrs()
		h := hostIface{}
		for _, ad := range addrs {
			if n, ok := ad.(*net.IPNet); ok {
				h.ips = append(h.ips, n.IP)
			}
		}
		hosts = append(hosts, h)
	}
	return pickIPv4(a.IP, hosts)
}

// hostIface is the addresses of one interface that is up.
type hostIface struct{ ips []net.IP }

// pickIPv4 returns an IPv4 address of the interface holding local, else
// the first IPv4 address of any interface.
func pickIPv4(local net.IP, hosts []hostIface) net.IP {
	first := func(h hostIface) net.IP {
		for _, ip := range h.ips {
			if v4 := ip.To4(); v4 != nil && !v4.IsLoopback() {
				return v4
			}
		}
		return nil
	}
	for _, h := range hosts {
		if slices.ContainsFunc(h.ips, local.Equal) {
			if ip := first(h); ip != nil {
				return ip
			}
		}
	}
	for _, h := range hosts {
		if ip := first(h); ip != nil {
			return ip
		}
	}
	return nil
}

// moverBusy reports whether the mover owns the tape drive (LISTEN or
// ACTIVE); TAPE requests are refused then. PAUSED leaves the drive to the
// DMA, which may change the cartridge before MOVER_CONTINUE.
func (s *session) moverBusy() bool {
	if s.svc == nil {
		return false
	}
	st := s.svc.mover.GetState().State
	return st == wire.MoverStateListen || st == wire.MoverStateActive
}

// moverTape is the session's open drive as the mover sees it; a nil
// interface (not a nil *tapeUnit) when none is open.
func (s *session) moverTape() mover.Tape {
	if s.drive == nil {
		return nil
	}
	return s.drive
}

func moverGetState(s *session, _ *wire.MoverGetStateRequest) wire.Body {
	st := s.services().mover.GetState()
	st.Error = wire.ErrNone
	return &st
}

func moverListen(s *session, r *wire.MoverListenRequest) wire.Body {
	addr, err := s.services().mover.Listen(r.Mode, r.AddrType, s.moverTape())
	return &wire.MoverListenReply{Error: ndmpError(err, s.version), ConnectAddr: addr}
}

func moverConnect(s *session, r *wire.MoverConnectRequest) wire.Body {
	ctx, cancel := context.WithTimeout(s.ctx, connectTimeout)
	defer cancel()
	err := s.services().mover.Connect(ctx, r.Mode, r.Addr, s.moverTape())
	return errorReply(ndmpError(err, s.version))
}

func moverContinue(s *session, _ *wire.MoverContinueRequest) wire.Body {
	return errorReply(ndmpError(s.services().mover.Continue(s.moverTape()), s.version))
}

func moverAbort(s *session, _ *wire.MoverAbortRequest) wire.Body {
	return errorReply(ndmpError(s.services().mover.Abort(), s.version))
}

func moverStop(s *session, _ *wire.MoverStopRequest) wire.Body {
	return errorReply(ndmpError(s.services().mover.Stop(), s.version))
}

func moverClose(s *session, _ *wire.MoverCloseRequest) wire.Body {
	return errorReply(ndmpError(s.services().mover.Close(), s.version))
}

func moverSetWindow(s *session, r *wire.MoverSetWindowRequest) wire.Body {
	return errorReply(ndmpError(s.services().mover.SetWindow(r.Offset, r.Length), s.version))
}

func moverRead(s *session, r *wire.MoverReadRequest) wire.Body {
	return errorReply(ndmpError(s.services().mover.Read(r.Offset, r.Length), s.version))
}

func moverSetRecordSize(s *session, r *wire.MoverSetRecordSizeRequest) wire.Body {
	return errorReply(ndmpError(s.services().mover.SetRecordSize(r.Len), s.version))
}
