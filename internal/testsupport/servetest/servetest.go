// Package servetest serves one of ferry's servers (NDMP, iSCSI, HTTP) on a
// loopback port for the rest of a test and checks that it shuts down
// cleanly: every test fixture that runs a server starts it here.
package servetest

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"testing"
	"time"
)

// Server is what ferry's servers share: Serve until Shutdown.
type Server interface {
	Serve(net.Listener) error
	Shutdown(context.Context) error
}

// Start serves s on 127.0.0.1:0 and returns its address. When the test
// ends, Shutdown must succeed within 30 s and Serve must return nil or one
// of clean (a server's "closed" sentinel). Cleanups registered before
// Start (closing a library, say) run after the server is down.
func Start(t testing.TB, s Server, clean ...error) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return Serve(t, s, ln, clean...)
}

// Serve is Start on a listener of the caller's.
func Serve(t testing.TB, s Server, ln net.Listener, clean ...error) string {
	t.Helper()
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("servetest: Shutdown: %v", err)
		}
		if err := <-served; err != nil && !isOneOf(err, clean) {
			t.Errorf("servetest: Serve: %v", err)
		}
	})
	return ln.Addr().String()
}

func isOneOf(err error, targets []error) bool {
	for _, t := range targets {
		if errors.Is(err, t) {
			return true
		}
	}
	return false
}

// Logger logs at debug level to standard error when FERRY_DEBUG (or
// NDMP_DEBUG) is set, and nowhere otherwise.
func Logger() *slog.Logger {
	if os.Getenv("FERRY_DEBUG") == "" && os.Getenv("NDMP_DEBUG") == "" {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
