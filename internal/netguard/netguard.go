// Package netguard keeps ferry's servers serving when peers misbehave: it
// retries the accept errors that pass (a descriptor shortage among them),
// caps the connections that have not authenticated yet, in total and per
// client address, and slows password guessing down per connection and per
// client address, with failure logs limited to one line per address and
// interval.
//
// Client addresses are IP addresses; an IPv6 peer counts by its /64, the
// block a single host usually owns.
package netguard

import (
	"errors"
	"net"
	"net/netip"
	"syscall"
	"time"
)

// Temporary reports whether an accept error passes: a timeout, running
// out of file descriptors or kernel memory, or a connection aborted before
// it was accepted. A server retries those after a pause instead of
// stopping.
func Temporary(err error) bool {
	var ne net.Error
	return (errors.As(err, &ne) && ne.Timeout()) ||
		errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) ||
		errors.Is(err, syscall.ECONNABORTED) || errors.Is(err, syscall.ENOBUFS) ||
		errors.Is(err, syscall.ENOMEM) || errors.Is(err, syscall.EINTR)
}

// Accept backoff bounds, as net/http's: the pause starts at
// MinAcceptBackoff and doubles up to MaxAcceptBackoff.
const (
	MinAcceptBackoff = 5 * time.Millisecond
	MaxAcceptBackoff = time.Second
)

// Backoff is the pause between failed accepts. The zero value is ready.
type Backoff struct{ d time.Duration }

// Next returns the pause before the next accept: twice the last, within
// the bounds.
func (b *Backoff) Next() time.Duration {
	b.d = min(max(2*b.d, MinAcceptBackoff), MaxAcceptBackoff)
	return b.d
}

// Reset starts over after a successful accept.
func (b *Backoff) Reset() { b.d = 0 }

// AddrKey is the client address a connection counts against: its IP,
// IPv4-mapped addresses unmapped, IPv6 cut to its /64. Peers that are not
// TCP (pipes in tests) all share the zero key.
func AddrKey(a net.Addr) netip.Addr {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return netip.Addr{}
	}
	ip := ta.AddrPort().Addr().Unmap()
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.Addr()
	}
	return ip
}
