package mover

import (
	"encoding/binary"
	"errors"
	"ferry/internal/tape/tapetest"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"ferry/internal/ndmp/dataconn"
	"ferry/internal/ndmp/wire"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// post is one notification the mover sent.
type post struct {
	code wire.Code
	body wire.Body
}

// poster collects a mover's posts for the test to wait on.
type poster struct{ ch chan post }

func newPoster() *poster { return &poster{ch: make(chan post, 64)} }

func (p *poster) notify(code wire.Code, body wire.Body) { p.ch <- post{code, body} }

// next waits for the next post; the timeout only guards a broken test.
func (p *poster) next(t *testing.T) post {
	t.Helper()
	select {
	case q := <-p.ch:
		return q
	case <-time.After(10 * time.Second):
		t.Fatal("no notification from the mover")
		return post{}
	}
}

func (p *poster) paused(t *testing.T, want wire.MoverPauseReason) *wire.NotifyMoverPaused {
	t.Helper()
	q := p.next(t)
	n, ok := q.body.(*wire.NotifyMoverPaused)
	if q.code != wire.CodeNotifyMoverPaused || !ok || n.Reason != want {
		t.Fatalf("got %v %+v, want NOTIFY_MOVER_PAUSED %v", q.code, q.body, want)
	}
	return n
}

func (p *poster) halted(t *testing.T, want wire.MoverHaltReason) {
	t.Helper()
	q := p.next(t)
	n, ok := q.body.(*wire.NotifyMoverHalted)
	if q.code != wire.CodeNotifyMoverHalted || !ok || n.Reason != want {
		t.Fatalf("got %v %+v, want NOTIFY_MOVER_HALTED %v", q.code, q.body, want)
	}
}

// logged takes an error LOG_MESSAGE that contains want.
func (p *poster) logged(t *testing.T, want string) {
	t.Helper()
	q := p.next(t)
	l, ok := q.body.(*wire.LogMessage)
	if q.code != wire.CodeLogMessage || !ok || l.LogType != wire.LogError || !strings.Contains(l.Entry, want) {
		t.Fatalf("got %v %+v, want an error NDMP_LOG_MESSAGE saying %q", q.code, q.body, want)
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

// lockedTape is what the server gives the mover: a *tape.Medium behind a mutex.
type lockedTape = tapetest.Locked

// newCartridge creates a blank cartridge in the test's temp dir and returns
// its path.
func newCartridge(t *testing.T, capacity int64) string { return tapetest.Create(t, capacity) }

// openTape opens the cartridge at path; it is closed when the test ends.
func openTape(t *testing.T, path string, readOnly bool) *lockedTape {
	return &lockedTape{M: tapetest.Open(t, path, readOnly)}
}

// newMover returns a mover for version v whose posts go to the returned poster
// and which is shut down when the test ends.
func newMover(t *testing.T, v wire.Version) (*Mover, *poster, *dataconn.Link) {
	p := newPoster()
	link := dataconn.NewLink(0)
	m := New(Config{Version: v, Notify: p.notify, ListenIP: net.IPv4(127, 0, 0, 1), Link: link})
	t.Cleanup(m.Shutdown)
	return m, p, link
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

func wantState(t *testing.T, m *Mover, st wire.MoverState) wire.MoverGetStateReply {
	t.Helper()
	s := m.GetState()
	if s.State != st {
		t.Fatalf("state %v (pause %v, halt %v), want %v", s.State, s.PauseReason, s.HaltReason, st)
	}
	return s
}

// dialAddr connects to a TCP address from a LISTEN reply.
func dialAddr(t *testing.T, a wire.Addr) net.Conn {
	t.Helper()
	if a.Type != wire.AddrTCP || len(a.TCP) != 1 {
		t.Fatalf("listen address %+v", a)
	}
	var ip [4]byte
	binary.BigEndian.PutUint32(ip[:], a.TCP[0].IP)
	c, err := net.Dial("tcp4", net.JoinHostPort(net.IP(ip[:]).String(), strconv.Itoa(int(a.TCP[0].Port))))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// waitState waits until the mover reaches st; the copy goroutine changes state
// on its own after a peer connects.
func waitState(t *testing.T, m *Mover, st wire.MoverState) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for m.GetState().State != st {
		if time.Now().After(deadline) {
			t.Fatalf("state %v, want %v", m.GetState().State, st)
		}
		time.Sleep(time.Millisecond)
	}
}

// stream returns n bytes of a recognisable pattern.
func stream(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}

func versions() []wire.Version { return []wire.Version{wire.V3, wire.V4} }

func vname(v wire.Version) string { return fmt.Sprintf("v%d", v) }

// closedPortAddr returns a loopback TCP address nothing listens on.
func closedPortAddr(t *testing.T) wire.Addr {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := addrOf(ln.Addr())
	ln.Close()
	return a
}
