package netguard

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"
	"time"
)

// ThrottleConfig sets how failed authentications slow a client down. Zero
// fields take the defaults.
type ThrottleConfig struct {
	// Backoff is the delay before the attempt that follows a first
	// failure; it doubles with each further failure up to MaxBackoff.
	// Defaults 100 ms and 5 s.
	Backoff, MaxBackoff time.Duration
	// Forget is how long an address must go without failing for its
	// failures to be forgotten (default 10 min).
	Forget time.Duration
	// LogEvery is the interval between two logged failures of one
	// address (default 1 min); Failed counts the ones in between.
	LogEvery time.Duration
	// MaxAddrs bounds the table of failing addresses (default 4096); when
	// it is full, the address that failed least recently is dropped.
	MaxAddrs int
}

// Throttle defaults.
const (
	DefaultBackoff    = 100 * time.Millisecond
	DefaultMaxBackoff = 5 * time.Second
	DefaultForget     = 10 * time.Minute
	DefaultLogEvery   = time.Minute
	DefaultMaxAddrs   = 4096
)

// ErrTooSoon means an attempt could not be let through before its
// deadline: the client has failed too often, too recently.
var ErrTooSoon = errors.New("netguard: too many failed authentications, try later")

// Throttle slows password guessing down. Before checking a credential a
// server calls Wait, which holds the attempt back while the client's
// address (or the connection itself) has failed recently: the delay is
// Backoff after one failure and doubles with each failure. Attempts from
// one address take turns, so parallel connections guess no faster than
// one. After a failed check the server calls Failed. Safe for concurrent
// use.
type Throttle struct {
	cfg ThrottleConfig

	mu    sync.Mutex
	addrs map[netip.Addr]*failures
}

// failures is what the throttle remembers of one address.
type failures struct {
	n          int       // failures since the address was last forgotten
	last       time.Time // the last failure
	next       time.Time // earliest start of the next attempt (attempts take turns)
	logged     time.Time // the last failure logged
	suppressed int       // failures not logged since
}

// NewThrottle returns a Throttle with cfg, defaults filled in.
func NewThrottle(cfg ThrottleConfig) *Throttle {
	if cfg.Backoff <= 0 {
		cfg.Backoff = DefaultBackoff
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = DefaultMaxBackoff
	}
	cfg.MaxBackoff = max(cfg.MaxBackoff, cfg.Backoff)
	if cfg.Forget <= 0 {
		cfg.Forget = DefaultForget
	}
	if cfg.LogEvery <= 0 {
		cfg.LogEvery = DefaultLogEvery
	}
	if cfg.MaxAddrs <= 0 {
		cfg.MaxAddrs = DefaultMaxAddrs
	}
	return &Throttle{cfg: cfg, addrs: map[netip.Addr]*failures{}}
}

// Delay is the wait before an attempt that follows n failures: none for
// n = 0, then Backoff doubling up to MaxBackoff.
func (t *Throttle) Delay(n int) time.Duration {
	if n <= 0 {
		return 0
	}
	d := t.cfg.Backoff
	for i := 1; i < n && d < t.cfg.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, t.cfg.MaxBackoff)
}

// Wait holds an authentication attempt from addr back until its turn:
// Delay(n) after the last failure, n the larger of the address's and the
// connection's (connFailures) failure counts, and Delay(n) after the
// previous attempt let through. It returns ErrTooSoon at once when that
// turn comes after deadline (zero: none), and ctx's error if ctx ends
// first.
func (t *Throttle) Wait(ctx context.Context, addr net.Addr, connFailures int, deadline time.Time) error {
	now := time.Now()
	t.mu.Lock()
	f := t.lookup(AddrKey(addr), now)
	n := connFailures
	last := now // the connection's failure, when the address has none on record
	if f != nil {
		n = max(n, f.n)
		last = f.last
	}
	d := t.Delay(n)
	if d == 0 {
		t.mu.Unlock()
		return nil
	}
	turn := last.Add(d)
	if f != nil && f.next.After(turn) {
		turn = f.next
	}
	if turn.Before(now) {
		turn = now
	}
	if !deadline.IsZero() && turn.After(deadline) {
		t.mu.Unlock()
		return ErrTooSoon
	}
	if f != nil {
		f.next = turn.Add(d)
	}
	t.mu.Unlock()
	return sleepUntil(ctx, turn)
}

func sleepUntil(ctx context.Context, at time.Time) error {
	d := time.Until(at)
	if d <= 0 {
		return nil
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Failed records a failed authentication from addr. It reports whether
// the server should log it (the first failure of an address in each
// LogEvery) and how many failures of the address went unlogged since the
// last one logged.
func (t *Throttle) Failed(addr net.Addr) (log bool, suppressed int) {
	now := time.Now()
	k := AddrKey(addr)
	t.mu.Lock()
	defer t.mu.Unlock()
	f := t.lookup(k, now)
	if f == nil {
		f = t.insert(k, now)
	}
	f.n++
	f.last = now
	if !f.logged.IsZero() && now.Sub(f.logged) < t.cfg.LogEvery {
		f.suppressed++
		return false, 0
	}
	suppressed, f.suppressed, f.logged = f.suppressed, 0, now
	return true, suppressed
}

// Failures returns the failures remembered for addr.
func (t *Throttle) Failures(addr net.Addr) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	if f := t.lookup(AddrKey(addr), time.Now()); f != nil {
		return f.n
	}
	return 0
}

// lookup returns the address's record, dropping it when it is stale.
func (t *Throttle) lookup(k netip.Addr, now time.Time) *failures {
	f := t.addrs[k]
	if f != nil && t.stale(f, now) {
		delete(t.addrs, k)
		return nil
	}
	return f
}

func (t *Throttle) stale(f *failures, now time.Time) bool {
	return now.Sub(f.last) >= t.cfg.Forget && !f.next.After(now)
}

// insert adds a record for k, making room when the table is full: stale
// records go first, then the one that failed least recently.
func (t *Throttle) insert(k netip.Addr, now time.Time) *failures {
	if len(t.addrs) >= t.cfg.MaxAddrs {
		var oldest netip.Addr
		var oldestAt time.Time
		for a, f := range t.addrs {
			if t.stale(f, now) {
				delete(t.addrs, a)
				continue
			}
			if oldestAt.IsZero() || f.last.Before(oldestAt) {
				oldest, oldestAt = a, f.last
			}
		}
		if len(t.addrs) >= t.cfg.MaxAddrs {
			delete(t.addrs, oldest)
		}
	}
	f := &failures{}
	t.addrs[k] = f
	return f
}
