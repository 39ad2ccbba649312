package initiator

import (
	"context"
	"sync"
	"time"
)

// Pool keeps sessions for reuse: one per key (the caller's name for a
// target and the credentials it logs in with), shared by its users, and
// logged out once no one has used it for Idle. A session whose connection
// ended is dropped and the next Get dials again. Its methods are safe for
// concurrent use.
type Pool struct {
	// Idle is how long an unused session stays open (default 30 s).
	Idle time.Duration

	mu       sync.Mutex
	sessions map[string]*pooled
	closed   bool
}

type pooled struct {
	s     *Session
	refs  int
	timer *time.Timer
}

// DefaultIdle is how long a Pool keeps an unused session by default.
const DefaultIdle = 30 * time.Second

// Get returns the session of key, dialling addr with cfg when there is
// none (ctx bounds the login). release gives it back; call it once.
func (p *Pool) Get(ctx context.Context, key, addr string, cfg Config) (s *Session, release func(), err error) {
	if s, ok := p.take(key); ok {
		return s, p.releaser(key, s), nil
	}
	s, err = Dial(ctx, addr, cfg)
	if err != nil {
		return nil, nil, err
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		s.Close()
		return nil, nil, ErrClosed
	}
	if e, ok := p.sessions[key]; ok && alive(e.s) {
		// Another user dialled it meanwhile: share theirs.
		e.refs++
		e.stopTimer()
		p.mu.Unlock()
		go s.Close()
		return e.s, p.releaser(key, e.s), nil
	}
	if p.sessions == nil {
		p.sessions = map[string]*pooled{}
	}
	p.sessions[key] = &pooled{s: s, refs: 1}
	p.mu.Unlock()
	return s, p.releaser(key, s), nil
}

// take returns a live pooled session of key, counting one more user.
func (p *Pool) take(key string) (*Session, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	e, ok := p.sessions[key]
	if !ok {
		return nil, false
	}
	if !alive(e.s) {
		delete(p.sessions, key)
		e.stopTimer()
		return nil, false
	}
	e.refs++
	e.stopTimer()
	return e.s, true
}

// releaser returns the release function of one Get.
func (p *Pool) releaser(key string, s *Session) func() {
	var once sync.Once
	return func() { once.Do(func() { p.release(key, s) }) }
}

func (p *Pool) release(key string, s *Session) {
	p.mu.Lock()
	defer p.mu.Unlock()
	e, ok := p.sessions[key]
	if !ok || e.s != s {
		return // dropped meanwhile
	}
	if e.refs--; e.refs > 0 {
		return
	}
	if !alive(s) {
		delete(p.sessions, key)
		return
	}
	idle := p.Idle
	if idle <= 0 {
		idle = DefaultIdle
	}
	e.timer = time.AfterFunc(idle, func() { p.expire(key, s) })
}

// expire logs out a session still unused after its idle time.
func (p *Pool) expire(key string, s *Session) {
	p.mu.Lock()
	e, ok := p.sessions[key]
	if !ok || e.s != s || e.refs > 0 {
		p.mu.Unlock()
		return
	}
	delete(p.sessions, key)
	p.mu.Unlock()
	s.Close()
}

// Drop closes the session of key at once (its connection is broken or
// hung): users still holding it get errors, the next Get dials again.
func (p *Pool) Drop(key string, s *Session) {
	p.mu.Lock()
	if e, ok := p.sessions[key]; ok && e.s == s {
		delete(p.sessions, key)
		e.stopTimer()
	}
	p.mu.Unlock()
	s.nc.Close() // no logout: the connection is what failed
}

// Len returns the number of sessions the pool holds.
func (p *Pool) Len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.sessions)
}

// Close logs out every session and makes later Gets fail.
func (p *Pool) Close() {
	p.mu.Lock()
	p.closed = true
	ss := p.sessions
	p.sessions = nil
	p.mu.Unlock()
	var wg sync.WaitGroup
	for _, e := range ss {
		e.stopTimer()
		wg.Add(1)
		go func() { defer wg.Done(); e.s.Close() }()
	}
	wg.Wait()
}

func (e *pooled) stopTimer() {
	if e.timer != nil {
		e.timer.Stop()
		e.timer = nil
	}
}

func alive(s *Session) bool {
	select {
	case <-s.Done():
		return false
	default:
		return true
	}
}
