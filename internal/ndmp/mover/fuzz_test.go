package mover

import (
	"context"
	"errors"
	"sync"
	"testing"

	"ferry/internal/ndmp/dataconn"
	"ferry/internal/ndmp/wire"
	"ferry/internal/tape"
)

// memTape is an in-memory tape: records and filemarks (nil) with a position,
// early warning past warnAt objects and no room past limit objects.
type memTape struct {
	mu       sync.Mutex
	objs     [][]byte
	pos      int
	warnAt   int
	limit    int
	readOnly bool
}

func (t *memTape) ReadOnly() bool { return t.readOnly }

func (t *memTape) WriteRecord(p []byte) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.pos >= t.limit {
		return tape.ErrEndOfMedium
	}
	t.objs = append(t.objs[:t.pos], append([]byte(nil), p...))
	t.pos++
	return nil
}

func (t *memTape) ReadRecord(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.pos >= len(t.objs) {
		return 0, tape.ErrEndOfData
	}
	o := t.objs[t.pos]
	t.pos++
	if o == nil {
		return 0, tape.ErrFilemark
	}
	n := copy(p, o)
	if len(o) > len(p) {
		return n, &tape.RecordLengthError{Len: len(o)}
	}
	return n, nil
}

func (t *memTape) SpaceRecords(n int) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	done := 0
	for ; n > 0 && done < n; done++ {
		if t.pos >= len(t.objs) {
			return done, tape.ErrEndOfData
		}
		if t.objs[t.pos] == nil {
			return done, tape.ErrFilemark
		}
		t.pos++
	}
	for ; n < 0 && done < -n; done++ {
		if t.pos == 0 {
			return done, tape.ErrBeginningOfMedium
		}
		if t.objs[t.pos-1] == nil {
			return done, tape.ErrFilemark
		}
		t.pos--
	}
	return done, nil
}

func (t *memTape) SpaceFilemarks(n int) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if n < 0 {
		for t.pos > 0 {
			t.pos--
			if t.objs[t.pos] == nil {
				return 1, nil
			}
		}
		return 0, tape.ErrBeginningOfMedium
	}
	return 0, nil
}

func (t *memTape) EarlyWarning() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.pos >= t.warnAt
}

// checkConsistent applies test-mover's self-consistency rule to a state and
// the spec's mode rule.
func checkConsistent(t *testing.T, s wire.MoverGetStateReply) {
	t.Helper()
	na := s.PauseReason == wire.MoverPauseNA && s.HaltReason == wire.MoverHaltNA
	switch s.State {
	case wire.MoverStateIdle, wire.MoverStateListen, wire.MoverStateActive:
		if !na {
			t.Fatalf("state %v with reasons %v/%v", s.State, s.PauseReason, s.HaltReason)
		}
	case wire.MoverStatePaused:
		if s.HaltReason != wire.MoverHaltNA || s.PauseReason == wire.MoverPauseNA {
			t.Fatalf("PAUSED with reasons %v/%v", s.PauseReason, s.HaltReason)
		}
	case wire.MoverStateHalted:
		if s.PauseReason != wire.MoverPauseNA || s.HaltReason == wire.MoverHaltNA {
			t.Fatalf("HALTED with reasons %v/%v", s.PauseReason, s.HaltReason)
		}
	default:
		t.Fatalf("bogus state %v", s.State)
	}
	if (s.State == wire.MoverStateIdle) != (s.Mode == wire.MoverModeNoAction) {
		t.Fatalf("state %v with mode %v", s.State, s.Mode)
	}
}

// FuzzMoverRequests drives a mover, its LOCAL data peer and an in-memory tape
// with an arbitrary sequence of requests. Every reply must be a wire.Error or
// nil, every state self-consistent, and Shutdown must leave nothing running.
func FuzzMoverRequests(f *testing.F) {
	f.Add([]byte{0, 2, 1, 0, 1, 9, 10, 40, 11, 7})
	f.Add([]byte{0, 1, 1, 0, 2, 2, 0, 1, 9, 10, 200, 6, 7})
	f.Add([]byte{0, 2, 2, 1, 0, 1, 9, 4, 0, 3, 8, 7})
	f.Fuzz(func(t *testing.T, prog []byte) {
		v := wire.V4
		if len(prog) > 0 && prog[0]&1 == 1 {
			v = wire.V3
		}
		fz := newFuzzRig(v)
		defer fz.finish()
		for i := 0; i < len(prog) && i < 64; i++ {
			arg := func() byte {
				i++
				if i < len(prog) {
					return prog[i]
				}
				return 0
			}
			err := fz.step(prog[i], arg)
			var e wire.Error
			if err != nil && !errors.As(err, &e) {
				t.Fatalf("request returned %T %v, not a wire.Error", err, err)
			}
			checkConsistent(t, fz.m.GetState())
		}
	})
}

// fuzzRig is a mover with its session's LOCAL link and a data side played by
// the fuzz program.
type fuzzRig struct {
	m      *Mover
	link   *dataconn.Link
	tape   *memTape
	conns  []*dataconn.Conn
	mu     sync.Mutex
	wg     sync.WaitGroup
	recent *dataconn.Conn
}

func newFuzzRig(v wire.Version) *fuzzRig {
	link := dataconn.NewLink(4096)
	z := &fuzzRig{link: link, tape: &memTape{warnAt: 20, limit: 24}}
	z.m = New(Config{Version: v, Link: link, Notify: func(wire.Code, wire.Body) {}})
	return z
}

func (z *fuzzRig) keep(c *dataconn.Conn) {
	z.mu.Lock()
	z.conns = append(z.conns, c)
	z.recent = c
	z.mu.Unlock()
}

func (z *fuzzRig) step(op byte, arg func() byte) error {
	modes := []wire.MoverMode{wire.MoverModeRead, wire.MoverModeWrite, wire.MoverModeNoAction, 123}
	tapes := func(b byte) Tape {
		if b%4 == 3 {
			return nil
		}
		return z.tape
	}
	switch op % 12 {
	case 0:
		return z.m.SetRecordSize(uint32(arg()) * 64)
	case 1:
		off, n := uint64(arg())*64, uint64(arg())*64
		if n == 0 {
			n = wire.LengthInfinity
		}
		return z.m.SetWindow(off, n)
	case 2:
		addrs := []wire.AddrType{wire.AddrLocal, wire.AddrLocal, wire.AddrIPC, 123}
		b := arg()
		_, err := z.m.Listen(modes[b%4], addrs[b/4%4], tapes(b/16))
		return err
	case 3:
		z.link.Listen(dataconn.Data, func(c *dataconn.Conn) error { z.keep(c); return nil })
		b := arg()
		return z.m.Connect(context.Background(), modes[b%4], wire.Addr{Type: wire.AddrLocal}, tapes(b))
	case 4:
		return z.m.Read(uint64(arg())*64, uint64(arg())*64)
	case 5:
		return z.m.Continue(tapes(arg()))
	case 6:
		return z.m.Abort()
	case 7:
		return z.m.Stop()
	case 8:
		return z.m.Close()
	case 9:
		if c, err := z.link.Connect(dataconn.Data); err == nil {
			z.keep(c)
		}
	case 10:
		z.mu.Lock()
		c := z.recent
		z.mu.Unlock()
		if c != nil {
			n := int(arg()) * 16
			z.wg.Add(2)
			go func() { defer z.wg.Done(); c.Write(make([]byte, n)) }()
			go func() { defer z.wg.Done(); c.Read(make([]byte, n+1)) }()
		}
	case 11:
		z.mu.Lock()
		if z.recent != nil {
			z.recent.Close()
		}
		z.mu.Unlock()
	}
	return nil
}

// finish shuts the mover down and closes the data side.
func (z *fuzzRig) finish() {
	z.m.Shutdown()
	z.mu.Lock()
	for _, c := range z.conns {
		c.Close()
	}
	z.mu.Unlock()
	z.wg.Wait()
}
