package netguard

import (
	"net"
	"net/netip"
	"sync"
)

// Limiter caps connections that have not authenticated yet: at most
// total at once, and at most perAddr from one client address. A server
// admits a connection when it accepts it and releases the slot once the
// peer has authenticated or the connection ends; a connection over a cap
// is closed at once, so idle sockets cannot use up the descriptors that
// well-behaved clients need.
type Limiter struct {
	total, perAddr int

	mu     sync.Mutex
	n      int
	byAddr map[netip.Addr]int
}

// NewLimiter returns a Limiter with the given caps (each at least 1).
func NewLimiter(total, perAddr int) *Limiter {
	return &Limiter{total: max(total, 1), perAddr: max(perAddr, 1), byAddr: map[netip.Addr]int{}}
}

// Admit takes a slot for a connection from addr, or returns nil when the
// total or the address's cap is reached.
func (l *Limiter) Admit(addr net.Addr) *Slot {
	k := AddrKey(addr)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.n >= l.total || l.byAddr[k] >= l.perAddr {
		return nil
	}
	l.n++
	l.byAddr[k]++
	return &Slot{l: l, key: k}
}

// Pending returns the number of slots taken.
func (l *Limiter) Pending() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n
}

func (l *Limiter) release(k netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.n--
	if l.byAddr[k]--; l.byAddr[k] <= 0 {
		delete(l.byAddr, k)
	}
}

// Slot is one admitted connection's place under the caps.
type Slot struct {
	l    *Limiter
	key  netip.Addr
	once sync.Once
}

// Release gives the slot back; later calls do nothing, and so does a nil
// Slot.
func (s *Slot) Release() {
	if s == nil {
		return
	}
	s.once.Do(func() { s.l.release(s.key) })
}
