package data

import (
	"bytes"
	"context"
	"errors"
	"ferry/internal/tape/tapetest"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"ferry/internal/ndmp/dataconn"
	"ferry/internal/ndmp/mover"
	"ferry/internal/ndmp/wire"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type post struct {
	code wire.Code
	body wire.Body
}

// poster collects one session's posts.
type poster struct{ ch chan post }

func newPoster() *poster { return &poster{ch: make(chan post, 256)} }

func (p *poster) notify(code wire.Code, body wire.Body) { p.ch <- post{code, body} }

// wait returns the next post with one of the given codes, skipping others.
func (p *poster) wait(t *testing.T, codes ...wire.Code) post {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case q := <-p.ch:
			for _, c := range codes {
				if q.code == c {
					return q
				}
			}
		case <-timeout:
			t.Fatalf("no %v post", codes)
		}
	}
}

func (p *poster) dataHalted(t *testing.T, want wire.DataHaltReason) {
	t.Helper()
	q := p.wait(t, wire.CodeNotifyDataHalted)
	if n := q.body.(*wire.NotifyDataHalted); n.Reason != want {
		t.Fatalf("NOTIFY_DATA_HALTED %v, want %v", n.Reason, want)
	}
}

func (p *poster) moverHalted(t *testing.T, want wire.MoverHaltReason) {
	t.Helper()
	q := p.wait(t, wire.CodeNotifyMoverHalted)
	if n := q.body.(*wire.NotifyMoverHalted); n.Reason != want {
		t.Fatalf("NOTIFY_MOVER_HALTED %v, want %v", n.Reason, want)
	}
}

func (p *poster) none(t *testing.T) {
	t.Helper()
	select {
	case q := <-p.ch:
		t.Fatalf("unexpected post %v %+v", q.code, q.body)
	default:
	}
}

// session is one NDMP session's mover and data service joined by a Link, as
// the server builds them.
type session struct {
	mover *mover.Mover
	data  *Service
	link  *dataconn.Link
	posts *poster
}

func newSession(t *testing.T, v wire.Version, engines map[string]Engine) *session {
	s := &session{link: dataconn.NewLink(0), posts: newPoster()}
	ip := net.IPv4(127, 0, 0, 1)
	s.mover = mover.New(mover.Config{Version: v, Notify: s.posts.notify, ListenIP: ip, Link: s.link})
	s.data = New(Config{Version: v, Notify: s.posts.notify, ListenIP: ip, Link: s.link, Engines: engines})
	t.Cleanup(func() { s.data.Shutdown(); s.mover.Shutdown() })
	return s
}

// lockedTape is the server's mutex-guarded view of an open cartridge.
type lockedTape = tapetest.Locked

func openTape(t *testing.T, capacity int64) *lockedTape {
	return &lockedTape{M: tapetest.Open(t, tapetest.Create(t, capacity), false)}
}

// tapeImage rewinds and concatenates the records up to the first filemark.
func tapeImage(t *testing.T, l *lockedTape, rs int) []byte {
	t.Helper()
	l.Lock()
	defer l.Unlock()
	l.M.Rewind()
	var out []byte
	buf := make([]byte, rs)
	for {
		n, err := l.M.ReadRecord(buf)
		if err != nil {
			return out
		}
		out = append(out, buf[:n]...)
	}
}

// writeImage puts data on the tape in records of rs, then a filemark, and
// rewinds.
func writeImage(t *testing.T, l *lockedTape, data []byte, rs int) {
	t.Helper()
	for i := 0; i < len(data); i += rs {
		rec := make([]byte, rs)
		copy(rec, data[i:])
		if err := l.M.WriteRecord(rec); err != nil {
			t.Fatal(err)
		}
	}
	l.M.WriteFilemarks(1)
	l.M.Rewind()
}

func wantErr(t *testing.T, what string, got error, want wire.Error) {
	t.Helper()
	if want == wire.ErrNone {
		if got != nil {
			t.Fatalf("%s: %v, want no error", what, got)
		}
		return
	}
	var e wire.Error
	if !errors.As(got, &e) || e != want {
		t.Fatalf("%s: %v, want %v", what, got, want)
	}
}

func wantState(t *testing.T, s *Service, st wire.DataState) wire.DataGetStateReply {
	t.Helper()
	g := s.GetState()
	if g.State != st {
		t.Fatalf("data state %v (halt %v), want %v", g.State, g.HaltReason, st)
	}
	return g
}

func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*13 + i/509)
	}
	return b
}

// patternEngine is a backup method that writes a fixed stream and a recover
// method that reads the whole stream back, requesting it first.
type patternEngine struct {
	data    []byte
	mu      sync.Mutex
	got     []byte
	block   chan struct{} // when set, Backup waits for it (or ctx) before writing
	failure error         // when set, Backup fails with it after writing
}

func (e *patternEngine) Backup(ctx context.Context, job *Job) error {
	if e.block != nil {
		select {
		case <-e.block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	job.SetEnv("DUMP_DATE", "12345")
	job.SetEstimate(uint64(len(e.data)), 0)
	if _, err := job.Stream.Write(e.data); err != nil {
		return err
	}
	return e.failure
}

func (e *patternEngine) Recover(ctx context.Context, job *Job) error {
	if err := job.Recovery.Request(0, uint64(len(e.data))); err != nil {
		return err
	}
	got := make([]byte, len(e.data))
	if _, err := io.ReadFull(job.Recovery, got); err != nil {
		return err
	}
	e.mu.Lock()
	e.got = got
	e.mu.Unlock()
	if !bytes.Equal(got, e.data) {
		return fmt.Errorf("recovered stream differs")
	}
	return nil
}

func (e *patternEngine) recovered() []byte {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.got
}

func versions() []wire.Version { return []wire.Version{wire.V3, wire.V4} }

func vname(v wire.Version) string { return fmt.Sprintf("v%d", v) }

// bothHalted waits for NOTIFY_DATA_HALTED and NOTIFY_MOVER_HALTED, in either
// order (each side posts from its own goroutine).
func (p *poster) bothHalted(t *testing.T, d wire.DataHaltReason, m wire.MoverHaltReason) {
	t.Helper()
	p.bothHaltedFrom(t, p, d, m)
}

// bothHaltedFrom waits for the data post on p and the mover post on mp.
func (p *poster) bothHaltedFrom(t *testing.T, mp *poster, d wire.DataHaltReason, m wire.MoverHaltReason) {
	t.Helper()
	if mp == p {
		for range 2 {
			q := p.wait(t, wire.CodeNotifyDataHalted, wire.CodeNotifyMoverHalted)
			switch n := q.body.(type) {
			case *wire.NotifyDataHalted:
				if n.Reason != d {
					t.Fatalf("NOTIFY_DATA_HALTED %v, want %v", n.Reason, d)
				}
			case *wire.NotifyMoverHalted:
				if n.Reason != m {
					t.Fatalf("NOTIFY_MOVER_HALTED %v, want %v", n.Reason, m)
				}
			}
		}
		return
	}
	p.dataHalted(t, d)
	mp.moverHalted(t, m)
}
