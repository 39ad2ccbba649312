package netguard

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"testing"
	"time"
)

func tcp(ip string) net.Addr { return &net.TCPAddr{IP: net.ParseIP(ip), Port: 40000} }

func TestTemporary(t *testing.T) {
	for _, err := range []error{
		&net.OpError{Op: "accept", Err: os.NewSyscallError("accept4", syscall.EMFILE)},
		&net.OpError{Op: "accept", Err: os.NewSyscallError("accept4", syscall.ENFILE)},
		&net.OpError{Op: "accept", Err: os.NewSyscallError("accept4", syscall.ECONNABORTED)},
		os.ErrDeadlineExceeded,
	} {
		if !Temporary(err) {
			t.Errorf("Temporary(%v) = false", err)
		}
	}
	if Temporary(net.ErrClosed) || Temporary(errors.New("boom")) {
		t.Error("a closed listener or an unknown error passed as temporary")
	}
}

func TestBackoffDoublesWithinBounds(t *testing.T) {
	var b Backoff
	want := []time.Duration{5, 10, 20, 40, 80, 160, 320, 640, 1000, 1000}
	for i, w := range want {
		if got := b.Next(); got != w*time.Millisecond {
			t.Fatalf("pause %d = %v, want %v", i, got, w*time.Millisecond)
		}
	}
	b.Reset()
	if got := b.Next(); got != MinAcceptBackoff {
		t.Fatalf("after Reset = %v", got)
	}
}

func TestAddrKeyIPv6By64(t *testing.T) {
	if AddrKey(tcp("2001:db8::1")) != AddrKey(tcp("2001:db8::ffff:1")) {
		t.Error("two addresses of one /64 count apart")
	}
	if AddrKey(tcp("2001:db8:0:1::1")) == AddrKey(tcp("2001:db8::1")) {
		t.Error("two /64s count together")
	}
	if AddrKey(tcp("::ffff:10.0.0.1")) != AddrKey(tcp("10.0.0.1")) {
		t.Error("an IPv4-mapped address counts apart from its IPv4 address")
	}
}

func TestLimiterCaps(t *testing.T) {
	l := NewLimiter(5, 2)
	a1, a2 := l.Admit(tcp("10.0.0.1")), l.Admit(tcp("10.0.0.1"))
	if a1 == nil || a2 == nil {
		t.Fatal("the first two connections of an address were refused")
	}
	if l.Admit(tcp("10.0.0.1")) != nil {
		t.Fatal("a third connection of one address was admitted over the per-address cap of 2")
	}
	var others []*Slot
	for i := 2; i <= 4; i++ {
		s := l.Admit(tcp(fmt.Sprintf("10.0.0.%d", i)))
		if s == nil {
			t.Fatalf("connection from 10.0.0.%d refused under the total cap", i)
		}
		others = append(others, s)
	}
	if l.Admit(tcp("10.0.0.9")) != nil {
		t.Fatal("a sixth connection was admitted over the total cap of 5")
	}
	a1.Release()
	a1.Release() // a second release must not free another slot
	if l.Pending() != 4 {
		t.Fatalf("Pending = %d after one release, want 4", l.Pending())
	}
	if l.Admit(tcp("10.0.0.1")) == nil {
		t.Fatal("a released slot was not reusable")
	}
	if l.Admit(tcp("10.0.0.9")) != nil {
		t.Fatal("admitted over the total cap after reuse")
	}
}

func TestThrottleDelays(t *testing.T) {
	th := NewThrottle(ThrottleConfig{Backoff: 10 * time.Millisecond, MaxBackoff: 40 * time.Millisecond})
	want := []time.Duration{0, 10, 20, 40, 40}
	for n, w := range want {
		if got := th.Delay(n); got != w*time.Millisecond {
			t.Errorf("Delay(%d) = %v, want %v", n, got, w*time.Millisecond)
		}
	}
}

// TestThrottleSerializesAddress: after failures, attempts from one
// address wait their backoff after the last failure, and parallel
// attempts take turns instead of going together.
func TestThrottleSerializesAddress(t *testing.T) {
	const base = 100 * time.Millisecond
	th := NewThrottle(ThrottleConfig{Backoff: base, MaxBackoff: time.Second})
	a := tcp("192.0.2.7")
	ctx := context.Background()
	start := time.Now()
	if err := th.Wait(ctx, a, 0, time.Time{}); err != nil || time.Since(start) > base {
		t.Fatalf("a first attempt waited %v (err %v)", time.Since(start), err)
	}
	start = time.Now()
	th.Failed(a)
	th.Failed(a) // two failures: the next attempt waits 2*base
	if err := th.Wait(ctx, a, 0, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 2*base {
		t.Fatalf("the attempt after two failures waited %v, want at least %v", d, 2*base)
	}
	// Another attempt takes the next turn, 2*base after the first's.
	th.Wait(ctx, a, 0, time.Time{})
	if d := time.Since(start); d < 4*base {
		t.Fatalf("two attempts after the failures were let through within %v, want turns %v apart", d, 2*base)
	}
	// Another address is not held back.
	start = time.Now()
	th.Wait(ctx, tcp("192.0.2.8"), 0, time.Time{})
	if d := time.Since(start); d > base {
		t.Fatalf("an address without failures waited %v", d)
	}
	// The connection's own failures count even when the address has none.
	start = time.Now()
	th.Wait(ctx, tcp("192.0.2.9"), 1, time.Time{})
	if d := time.Since(start); d < base {
		t.Fatalf("a connection after its failure waited only %v", d)
	}
	// A turn past the deadline is refused at once.
	th.Failed(a)
	if err := th.Wait(ctx, a, 0, time.Now().Add(time.Millisecond)); !errors.Is(err, ErrTooSoon) {
		t.Fatalf("Wait with a deadline before the turn = %v, want ErrTooSoon", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := th.Wait(cctx, a, 0, time.Time{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait with a canceled context = %v", err)
	}
}

func TestThrottleLogsOncePerInterval(t *testing.T) {
	th := NewThrottle(ThrottleConfig{LogEvery: time.Hour})
	a := tcp("198.51.100.1")
	if log, _ := th.Failed(a); !log {
		t.Fatal("the first failure of an address was not logged")
	}
	for range 99 {
		if log, _ := th.Failed(a); log {
			t.Fatal("a second failure within the interval was logged")
		}
	}
	if log, _ := th.Failed(tcp("198.51.100.2")); !log {
		t.Fatal("another address's first failure was not logged")
	}
	th = NewThrottle(ThrottleConfig{LogEvery: time.Millisecond})
	th.Failed(a)
	th.Failed(a)
	th.Failed(a)
	time.Sleep(2 * time.Millisecond)
	log, suppressed := th.Failed(a)
	if !log || suppressed != 2 {
		t.Fatalf("after the interval: log %v, suppressed %d; want true, 2", log, suppressed)
	}
}

func TestThrottleTableBounded(t *testing.T) {
	th := NewThrottle(ThrottleConfig{MaxAddrs: 16})
	for i := range 1000 {
		th.Failed(tcp(fmt.Sprintf("10.%d.%d.1", i/256, i%256)))
	}
	th.mu.Lock()
	n := len(th.addrs)
	th.mu.Unlock()
	if n > 16 {
		t.Fatalf("the table holds %d addresses, cap 16", n)
	}
	if th.Failures(tcp("10.3.231.1")) != 1 {
		t.Fatal("the most recent failing address was dropped")
	}
}
