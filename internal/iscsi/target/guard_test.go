package target

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"ferry/internal/iscsi/initiator"
	"ferry/internal/netguard"
	"ferry/internal/testsupport/guardtest"
)

// idleConn dials addr from the loopback address src and sends nothing.
func idleConn(t *testing.T, src, addr string) net.Conn { return guardtest.DialFrom(t, src, addr) }

// closedSoon reports whether the target closes c within d.
func closedSoon(c net.Conn, d time.Duration) bool {
	c.SetReadDeadline(time.Now().Add(d))
	_, err := c.Read(make([]byte, 1))
	return err == io.EOF || errors.Is(err, syscall.ECONNRESET)
}

// testUnitReady logs in with ferry's initiator and runs TEST UNIT READY
// on the disk LUN (a first unit attention is answered, then retried).
func testUnitReady(ctx context.Context, addr string) error {
	s, err := initiator.Dial(ctx, addr, initiator.Config{TargetName: testIQN})
	if err != nil {
		return err
	}
	defer s.Close()
	for range 3 {
		r, err := s.Execute(ctx, 5, make([]byte, 6), nil, 0)
		if err != nil {
			return err
		}
		if r.Status == 0 {
			return nil
		}
	}
	return errors.New("TEST UNIT READY never good")
}

// TestPendingLoginCaps: connections that never log in are capped per
// client address and in total; one over a cap is closed at once, and a
// well-behaved initiator from another address is still served while the
// idle ones hold their places.
func TestPendingLoginCaps(t *testing.T) {
	h := start(t, func(c *Config) {
		c.MaxPendingLogins, c.MaxPendingLoginsPerAddr = 6, 3
		c.LoginTimeout = time.Minute
	})
	for range 3 {
		idleConn(t, "127.0.0.2", h.addr)
	}
	if c := idleConn(t, "127.0.0.2", h.addr); !closedSoon(c, 2*time.Second) {
		t.Fatal("a fourth idle connection of one address was not closed at once (per-address cap 3)")
	}
	if err := testUnitReady(testCtx(t), h.addr); err != nil {
		t.Fatalf("an initiator from another address was not served beside the idle ones: %v", err)
	}
	for range 3 {
		idleConn(t, "127.0.0.3", h.addr)
	}
	waitPending(t, h.tgt, 6)
	if c := idleConn(t, "127.0.0.4", h.addr); !closedSoon(c, 2*time.Second) {
		t.Fatal("a seventh idle connection was not closed at once (total cap 6)")
	}
}

func waitPending(t *testing.T, tgt *Target, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for tgt.pending.Pending() != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections pending login, want %d", tgt.pending.Pending(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestLoginTimeoutFreesPlace: an idle connection is closed after the
// login timeout, and its place serves a well-behaved initiator.
func TestLoginTimeoutFreesPlace(t *testing.T) {
	h := start(t, func(c *Config) {
		c.MaxPendingLogins, c.LoginTimeout = 2, 200*time.Millisecond
	})
	a, b := idleConn(t, "127.0.0.2", h.addr), idleConn(t, "127.0.0.3", h.addr)
	waitPending(t, h.tgt, 2)
	if !closedSoon(a, 3*time.Second) || !closedSoon(b, 3*time.Second) {
		t.Fatal("idle connections outlived the login timeout")
	}
	if err := testUnitReady(testCtx(t), h.addr); err != nil {
		t.Fatalf("initiator after the timeouts: %v", err)
	}
}

const burstEnv = "FERRY_TEST_ISCSI_FD_BURST"

// TestAcceptSurvivesDescriptorExhaustion runs in a child process, since
// the descriptor limit it lowers is the whole process's: a burst of idle
// connections makes Accept fail with EMFILE, and once the burst's
// connections are dropped by the caps and the login timeout, an initiator
// logs in and runs TEST UNIT READY. Before the fix the accept loop
// stopped at the first EMFILE for good.
func TestAcceptSurvivesDescriptorExhaustion(t *testing.T) {
	if os.Getenv(burstEnv) == "" {
		guardtest.RunChild(t, "TestAcceptSurvivesDescriptorExhaustion", burstEnv)
		return
	}
	var logs guardtest.LogBuf
	h := start(t, func(c *Config) {
		c.Logger = logs.Logger()
		c.LoginTimeout = 300 * time.Millisecond
		c.NOPInterval = -1
	})
	restore := guardtest.Lower(t, 48)
	burst := dialUntilEMFILE(t, h.addr, 1000)
	waitLog(t, &logs, "too many open files")
	restore()
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
	defer cancel()
	var err error
	for ctx.Err() == nil {
		if err = testUnitReady(ctx, h.addr); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("after a burst of %d idle connections, no initiator is served: %v", len(burst), err)
	}
	for _, c := range burst {
		c.Close()
	}
}

// dialUntilEMFILE opens idle connections until the process runs out of
// descriptors (or max are open); the target's accepts then fail too.
func dialUntilEMFILE(t *testing.T, addr string, max int) []net.Conn {
	t.Helper()
	var conns []net.Conn
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	for len(conns) < max {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if errors.Is(err, syscall.EMFILE) {
			return conns
		}
		if err != nil {
			t.Fatalf("dial %d: %v", len(conns), err)
		}
		conns = append(conns, c)
	}
	t.Fatalf("%d connections open without running out of descriptors", max)
	return nil
}

func waitLog(t *testing.T, l *guardtest.LogBuf, want string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(l.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("the target never logged %q; log:\n%s", want, l.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestCHAPGuessingThrottled: wrong CHAP responses from one address slow
// down (each attempt waits at least the backoff after the last failure,
// doubling), parallel connections take turns instead of multiplying the
// rate, failures are logged once per interval, and the right secret still
// logs in.
func TestCHAPGuessingThrottled(t *testing.T) {
	const backoff = 20 * time.Millisecond
	name := "iqn.2026-01.dev.ferry:guess"
	secret := []byte("the right secret 42")
	var logs guardtest.LogBuf
	h := start(t, func(c *Config) {
		c.Logger = logs.Logger()
		c.ACL = []Initiator{{Name: name, Secret: secret}}
		c.AuthThrottle = netguard.ThrottleConfig{Backoff: backoff, MaxBackoff: 8 * backoff}
	})
	guess := func(i int) (time.Duration, error) {
		start := time.Now()
		_, err := initiator.Dial(testCtx(t), h.addr, initiator.Config{InitiatorName: name, TargetName: testIQN,
			CHAP: &initiator.CHAP{Secret: fmt.Appendf(nil, "guess number %05d", i)}})
		return time.Since(start), err
	}
	// Sequential guesses: the nth waits Delay(n-1) after the last failure.
	for i := 1; i <= 4; i++ {
		took, err := guess(i)
		var le *initiator.LoginError
		if !errors.As(err, &le) || le.Detail != detailAuthFailed {
			t.Fatalf("guess %d: %v, want an authentication failure", i, err)
		}
		// The delay runs from the failure, a little before the initiator
		// heard of it and started this guess.
		if want := h.tgt.throttle.Delay(i - 1); took < want*3/4 {
			t.Fatalf("guess %d answered in %v, want at least the backoff %v", i, took, want)
		}
	}
	// Parallel guesses take turns: 8 at once wait at least 8 backoffs of
	// the current step in all.
	start := time.Now()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() { guess(100 + i) })
	}
	wg.Wait()
	if took, want := time.Since(start), 7*h.tgt.throttle.Delay(4)-backoff; took < want {
		t.Fatalf("8 parallel guesses took %v, want at least %v", took, want)
	}
	if n := strings.Count(logs.String(), "authentication failed"); n != 1 {
		t.Errorf("%d log lines for 12 failures, want 1 per interval:\n%s", n, logs.String())
	}
	s, err := initiator.Dial(testCtx(t), h.addr, initiator.Config{InitiatorName: name, TargetName: testIQN,
		CHAP: &initiator.CHAP{Secret: secret}})
	if err != nil {
		t.Fatalf("the right secret after the guessing: %v", err)
	}
	s.Close()
}
