package node

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// ErrPlainHTTP: plain HTTP was asked for on an address other hosts reach.
// Bearer tokens would cross the network in the clear.
var ErrPlainHTTP = errors.New("node: plain HTTP on a non-loopback address: give a TLS certificate and key, or allow insecure HTTP")

// HTTPSecurity is how the management API is served.
type HTTPSecurity struct {
	// CertFile and KeyFile serve HTTPS with this certificate and key
	// (PEM); both or neither.
	CertFile, KeyFile string
	// Insecure allows plain HTTP on an address that is not loopback.
	Insecure bool
}

// httpServer is the node's management API server.
type httpServer struct {
	srv *http.Server
	ln  net.Listener
}

// backgroundWork is a handler with work of its own beyond its requests
// (the management API's jobs and event streams): the node stops it with
// the server.
type backgroundWork interface {
	Shutdown(ctx context.Context) error
}

// shutdown stops the handler's background work first (so long-lived
// streams end and do not hold the server's drain), then the server.
func (h *httpServer) shutdown(ctx context.Context) error {
	var errs []error
	if bw, ok := h.srv.Handler.(backgroundWork); ok {
		if err := bw.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("management API jobs: %w", err))
		}
	}
	if err := h.srv.Shutdown(ctx); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// startHTTP listens on HTTPAddr and serves the handler cfg.HTTP builds.
// A listener that fails for good is reported on n.failed like the others.
func (n *Node) startHTTP() error {
	cfg := n.cfg
	if cfg.HTTP == nil {
		return errors.New("node: an HTTP address without a handler")
	}
	sec := cfg.HTTPS
	if (sec.CertFile == "") != (sec.KeyFile == "") {
		return errors.New("node: HTTPS needs both a certificate and a key")
	}
	var tlsConf *tls.Config
	if sec.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(sec.CertFile, sec.KeyFile)
		if err != nil {
			return fmt.Errorf("HTTPS certificate: %w", err)
		}
		tlsConf = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	ln, err := cfg.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("HTTP listen: %w", err)
	}
	// Judged on the address actually bound: ":8080" or a name that
	// resolves to a public address is not loopback.
	if tlsConf == nil && !sec.Insecure && !isLoopback(ln.Addr()) {
		ln.Close()
		return fmt.Errorf("%w (%s)", ErrPlainHTTP, ln.Addr())
	}
	srv := &http.Server{
		Handler:           cfg.HTTP(n),
		TLSConfig:         tlsConf,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelWarn),
	}
	n.http = &httpServer{srv: srv, ln: ln}
	go func() {
		var err error
		if tlsConf != nil {
			err = srv.ServeTLS(ln, "", "")
		} else {
			err = srv.Serve(ln)
		}
		if !errors.Is(err, http.ErrServerClosed) {
			n.failed <- fmt.Errorf("HTTP server: %w", err)
		}
	}()
	return nil
}

func isLoopback(a net.Addr) bool {
	ta, ok := a.(*net.TCPAddr)
	return ok && ta.IP.IsLoopback()
}

// HTTPAddr is the management API's address (nil when it is off).
func (n *Node) HTTPAddr() net.Addr {
	if n.http == nil {
		return nil
	}
	return n.http.ln.Addr()
}

// Exports are the directories the node backs up and restores into.
func (n *Node) Exports() []string { return n.cfg.Exports }

// Layout is the node's state directory.
func (n *Node) Layout() Layout { return n.cfg.Layout }
