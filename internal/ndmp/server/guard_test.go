package server

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"ferry/internal/ndmp/client"
	"ferry/internal/ndmp/wire"
	"ferry/internal/netguard"
	"ferry/internal/testsupport/guardtest"
)

// dialFrom connects from the loopback address src and reads the greeting.
func dialFrom(t *testing.T, src, addr string) *testClient {
	t.Helper()
	return newTestClient(t, guardtest.DialFrom(t, src, addr))
}

// dmaLogin is a well-behaved DMA: ferry's NDMP client connects and
// authenticates.
func dmaLogin(ctx context.Context, addr string) error {
	c, err := client.Dial(ctx, addr, client.Options{User: testUser, Password: testPassword, DialTimeout: 2 * time.Second})
	if err != nil {
		return err
	}
	return c.Close()
}

func waitPending(t *testing.T, s *Server, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for s.pending.Pending() != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections unauthenticated, want %d", s.pending.Pending(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestUnauthenticatedCaps: connections that do not authenticate are
// capped per client address and in total; one over a cap is told
// CONNECTION_REFUSED and closed at once, while a DMA from another address
// is served; an authenticated session no longer counts.
func TestUnauthenticatedCaps(t *testing.T) {
	ts := newTestServer(t, func(c *Config) {
		c.MaxUnauthenticated, c.MaxUnauthenticatedPerAddr = 6, 3
		c.AuthTimeout = time.Minute
	})
	for range 3 {
		dialFrom(t, "127.0.0.2", ts.addr)
	}
	over := dialFrom(t, "127.0.0.2", ts.addr)
	if over.first.Reason != wire.ConnectionRefused {
		t.Errorf("a fourth connection of one address was greeted with %v, want REFUSED", over.first.Reason)
	}
	over.expectClosed()
	if err := dmaLogin(context.Background(), ts.addr); err != nil {
		t.Fatalf("a DMA from another address beside the idle connections: %v", err)
	}
	authed := dialFrom(t, "127.0.0.3", ts.addr)
	authed.login(wire.V4, testUser, testPassword)
	for range 3 {
		dialFrom(t, "127.0.0.3", ts.addr) // the authenticated one left its place
	}
	waitPending(t, ts.Server, 6)
	full := dialFrom(t, "127.0.0.4", ts.addr)
	if full.first.Reason != wire.ConnectionRefused {
		t.Errorf("a seventh connection was greeted with %v, want REFUSED (total cap 6)", full.first.Reason)
	}
	full.expectClosed()
}

// TestAuthGuessingThrottled: on one connection each wrong password waits
// the backoff after the last failure, doubling, and the third failure
// ends the connection; over reconnects the address stays slowed down, so
// a guessing loop gets few attempts in, and failures are logged once per
// interval. The right password still works afterwards.
func TestAuthGuessingThrottled(t *testing.T) {
	const backoff = 20 * time.Millisecond
	var logs guardtest.LogBuf
	ts := newTestServer(t, func(c *Config) {
		c.Logger = logs.Logger()
		c.AuthThrottle = netguard.ThrottleConfig{Backoff: backoff, MaxBackoff: 8 * backoff}
	})
	wrong := func(c *testClient) (time.Duration, wire.Error) {
		start := time.Now()
		e := c.callErr(wire.CodeConnectClientAuth, &wire.ConnectClientAuthRequest{AuthData: wire.AuthData{
			AuthType: wire.AuthText, AuthID: testUser, AuthPassword: "not the password"}})
		return time.Since(start), e
	}
	c := ts.client(t)
	c.open(wire.V4)
	for i := 1; i <= DefaultMaxAuthFailures; i++ {
		took, e := wrong(c)
		if e != wire.ErrNotAuthorized {
			t.Fatalf("guess %d: %v", i, e)
		}
		// The delay runs from the failure, a little before the client
		// heard of it and sent this guess.
		if want := ts.throttle.Delay(i - 1); took < want*3/4 {
			t.Fatalf("guess %d answered in %v, want at least the backoff %v", i, took, want)
		}
	}
	c.expectClosed()
	if len(c.posts) == 0 || c.posts[len(c.posts)-1].Code != wire.CodeNotifyConnectionStatus {
		t.Errorf("after %d failures the server sent %v before closing; want NOTIFY_CONNECTION_STATUS", DefaultMaxAuthFailures, c.posts)
	}

	// A guessing loop over reconnects for one second.
	attempts := 0
	for start := time.Now(); time.Since(start) < time.Second; {
		g := ts.client(t)
		g.open(wire.V4)
		for range DefaultMaxAuthFailures {
			if _, e := wrong(g); e != wire.ErrNotAuthorized {
				t.Fatalf("guess: %v", e)
			}
			attempts++
		}
		g.expectClosed()
		g.conn.Close()
	}
	// Unthrottled, one connection answers thousands a second; with the
	// address at the 160 ms cap, a second holds at most about 7.
	if attempts > 12 {
		t.Errorf("%d guesses in a second, want the address slowed to about one per %v", attempts, 8*backoff)
	}
	if n := strings.Count(logs.String(), "authentication failed"); n != 1 {
		t.Errorf("%d log lines for %d failures, want 1 per interval:\n%s", n, attempts+3, logs.String())
	}
	if err := dmaLogin(context.Background(), ts.addr); err != nil {
		t.Fatalf("the right password after the guessing: %v", err)
	}
}

const burstEnv = "FERRY_TEST_NDMP_FD_BURST"

// TestAcceptSurvivesDescriptorExhaustion runs in a child process, since
// the descriptor limit it lowers is the whole process's. With the default
// auth timeout and caps, a burst of idle connections from one address
// runs the process out of descriptors: the server keeps 32 of them (its
// per-address cap) and closes the others at once, and one more connection
// makes its Accept fail with EMFILE. Once the burst's closed connections
// are dropped, a DMA from another address connects and authenticates
// while the limit is still low and the 32 still wait. Before the fix
// every idle connection held its descriptor for two minutes.
func TestAcceptSurvivesDescriptorExhaustion(t *testing.T) {
	if os.Getenv(burstEnv) == "" {
		guardtest.RunChild(t, "TestAcceptSurvivesDescriptorExhaustion", burstEnv)
		return
	}
	var logs guardtest.LogBuf
	ts := newTestServer(t, func(c *Config) { c.Logger = logs.Logger() })
	guardtest.Lower(t, 3*DefaultMaxUnauthenticatedPerAddr)
	var kept, closed []net.Conn
	t.Cleanup(func() {
		for _, c := range append(kept, closed...) {
			c.Close()
		}
	})
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}, Timeout: time.Second}
	// One at a time, so that the server has taken each before the next,
	// until the server cannot accept one for want of a descriptor.
	var stuck net.Conn
	for stuck == nil {
		before := ts.pending.Pending()
		c, err := d.Dial("tcp", ts.addr)
		if errors.Is(err, syscall.EMFILE) && len(closed) > 0 {
			// This side took the last descriptor: free one for the next.
			closed[0].Close()
			closed = closed[1:]
			continue
		}
		if err != nil {
			t.Fatalf("dial %d: %v", len(kept)+len(closed), err)
		}
		switch waitTaken(t, ts.Server, c, before, &logs) {
		case admitted:
			kept = append(kept, c)
		case refusedAtOnce:
			closed = append(closed, c)
		case notAccepted:
			stuck = c
		}
	}
	defer stuck.Close()
	if len(kept) != DefaultMaxUnauthenticatedPerAddr || len(closed) == 0 {
		t.Fatalf("of a burst from one address the server kept %d and closed %d; want %d kept",
			len(kept), len(closed), DefaultMaxUnauthenticatedPerAddr)
	}
	for _, c := range closed {
		c.Close()
	}
	closed = nil
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
	defer cancel()
	var err error
	for ctx.Err() == nil {
		if err = dmaLogin(ctx, ts.addr); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("after a burst of %d idle connections, no DMA is served: %v", len(kept), err)
	}
	if n := ts.pending.Pending(); n != DefaultMaxUnauthenticatedPerAddr {
		t.Errorf("%d connections unauthenticated at the end, want the burst's %d", n, DefaultMaxUnauthenticatedPerAddr)
	}
}

type taken int

const (
	admitted taken = iota
	refusedAtOnce
	notAccepted // Accept failed with EMFILE
)

// waitTaken waits until the server has admitted c, closed it, or logged
// that Accept ran out of descriptors.
func waitTaken(t *testing.T, s *Server, c net.Conn, before int, logs *guardtest.LogBuf) taken {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if s.pending.Pending() > before {
			return admitted
		}
		c.SetReadDeadline(time.Now().Add(5 * time.Millisecond))
		_, err := io.ReadAll(c)
		if err == nil || errors.Is(err, syscall.ECONNRESET) {
			return refusedAtOnce
		}
		if strings.Contains(logs.String(), "too many open files") {
			return notAccepted
		}
	}
	t.Fatal("the server neither admitted nor closed a connection")
	return 0
}

func waitLog(t *testing.T, l *guardtest.LogBuf, want string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(l.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("the server never logged %q; log:\n%s", want, l.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}
