// Package stats counts what the servers' sessions do (commands, errors,
// bytes, latency) for the management API's metrics: the servers update
// lock-free counters on their hot paths, and a scrape reads a snapshot.
// It depends on nothing of ferry's, so the servers need no metrics
// library.
package stats

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Buckets are the latency histogram's upper bounds, in seconds.
var Buckets = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// Counters are one unit of accounting: a session, or a LUN in a session.
// The zero value is ready; a nil *Counters counts nothing.
type Counters struct {
	commands, errors  atomic.Uint64
	bytesIn, bytesOut atomic.Uint64
	latency           [17]atomic.Uint64 // per bucket, the last one +Inf
	latencySumNanos   atomic.Uint64
}

// Command counts one command that took d and failed or not.
func (c *Counters) Command(d time.Duration, failed bool) {
	if c == nil {
		return
	}
	c.commands.Add(1)
	if failed {
		c.errors.Add(1)
	}
	s := d.Seconds()
	i, _ := slices.BinarySearch(Buckets, s)
	c.latency[i].Add(1)
	c.latencySumNanos.Add(uint64(max(d, 0)))
}

// In counts bytes received from the peer; Out bytes sent to it.
func (c *Counters) In(n int) {
	if c != nil && n > 0 {
		c.bytesIn.Add(uint64(n))
	}
}

// Out counts bytes sent to the peer (or written for it).
func (c *Counters) Out(n int) {
	if c != nil && n > 0 {
		c.bytesOut.Add(uint64(n))
	}
}

// Figures are a snapshot of Counters.
type Figures struct {
	Commands, Errors  uint64
	BytesIn, BytesOut uint64
	// Latency counts commands per bucket (cumulative, as Prometheus
	// wants), the last entry being all of them; LatencySum is in seconds.
	Latency    []uint64
	LatencySum float64
}

func (c *Counters) figures() Figures {
	f := Figures{Commands: c.commands.Load(), Errors: c.errors.Load(), BytesIn: c.bytesIn.Load(), BytesOut: c.bytesOut.Load(),
		LatencySum: float64(c.latencySumNanos.Load()) / 1e9, Latency: make([]uint64, len(c.latency))}
	var sum uint64
	for i := range c.latency {
		sum += c.latency[i].Load()
		f.Latency[i] = sum
	}
	return f
}

// Session is one live session of a server.
type Session struct {
	total   Counters
	ID      string // unique while the process runs
	Kind    string // "ndmp", "iscsi"
	Peer    string // the peer's address (NDMP) or initiator name (iSCSI)
	Started time.Time

	mu    sync.Mutex
	units map[uint64]*Counters
}

// Total returns the session's own counters (nil for a nil session).
func (s *Session) Total() *Counters {
	if s == nil {
		return nil
	}
	return &s.total
}

// Command counts one command of the session (nothing for a nil session).
func (s *Session) Command(d time.Duration, failed bool) { s.Total().Command(d, failed) }

// Count counts one command that took d on the session and on unit (the
// counters of the LUN it went to; nil: none): in bytes received, out sent.
func (s *Session) Count(unit *Counters, d time.Duration, failed bool, in, out int) {
	for _, c := range [2]*Counters{s.Total(), unit} {
		c.Command(d, failed)
		c.In(in)
		c.Out(out)
	}
}

// In counts bytes the session received.
func (s *Session) In(n int) { s.Total().In(n) }

// Out counts bytes the session sent.
func (s *Session) Out(n int) { s.Total().Out(n) }

// Unit returns the counters of one logical unit of the session (made on
// first use). A nil session returns nil, which counts nothing.
func (s *Session) Unit(lun uint64) *Counters {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.units[lun]
	if !ok {
		if s.units == nil {
			s.units = map[uint64]*Counters{}
		}
		c = &Counters{}
		s.units[lun] = c
	}
	return c
}

// Registry holds the live sessions of a node's servers.
type Registry struct {
	mu   sync.Mutex
	next uint64
	live map[*Session]struct{}
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{live: map[*Session]struct{}{}} }

// Start registers a new session. A nil registry returns nil: the servers
// count through nil sessions at no cost when nobody reads.
func (r *Registry) Start(kind, peer string) *Session {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.next++
	s := &Session{ID: kind + "-" + itoa(r.next), Kind: kind, Peer: peer, Started: time.Now()}
	r.live[s] = struct{}{}
	return s
}

// End removes a session.
func (r *Registry) End(s *Session) {
	if r == nil || s == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.live, s)
}

// SessionFigures is a snapshot of one session and its units.
type SessionFigures struct {
	ID, Kind, Peer string
	Started        time.Time
	Figures
	Units map[uint64]Figures
}

// Snapshot returns the live sessions' figures, by ID.
func (r *Registry) Snapshot() []SessionFigures {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	live := make([]*Session, 0, len(r.live))
	for s := range r.live {
		live = append(live, s)
	}
	r.mu.Unlock()
	out := make([]SessionFigures, 0, len(live))
	for _, s := range live {
		f := SessionFigures{ID: s.ID, Kind: s.Kind, Peer: s.Peer, Started: s.Started, Figures: s.total.figures()}
		s.mu.Lock()
		if len(s.units) > 0 {
			f.Units = map[uint64]Figures{}
			for lun, c := range s.units {
				f.Units[lun] = c.figures()
			}
		}
		s.mu.Unlock()
		out = append(out, f)
	}
	slices.SortFunc(out, func(a, b SessionFigures) int { return compareIDs(a.ID, b.ID) })
	return out
}

func compareIDs(a, b string) int {
	if len(a) != len(b) {
		return len(a) - len(b)
	}
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func itoa(n uint64) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			return string(b[i:])
		}
	}
}
