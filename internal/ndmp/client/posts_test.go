package client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"ferry/internal/ndmp/wire"
)

// fakeAgent is a scripted NDMP agent on 127.0.0.1: it greets with v4,
// answers CONNECT_* with NO_ERR, and calls onRequest for everything else.
type fakeAgent struct {
	t         *testing.T
	ln        net.Listener
	onAuthed  func(a *agentConn)
	onRequest func(a *agentConn, h wire.Header)
	wg        sync.WaitGroup
}

type agentConn struct {
	nc  net.Conn
	mu  sync.Mutex
	seq uint32
}

// send writes one message; posts have replySeq 0.
func (a *agentConn) send(typ wire.MessageType, code wire.Code, replySeq uint32, body wire.Body) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.seq++
	h := wire.Header{Sequence: a.seq, Type: typ, Code: code, ReplySequence: replySeq}
	_, err := a.nc.Write(wire.AppendMessage(nil, h, body, wire.V4))
	return err
}

func (a *agentConn) reply(h wire.Header, body wire.Body) error {
	return a.send(wire.Reply, h.Code, h.Sequence, body)
}

func startFakeAgent(t *testing.T, fa *fakeAgent) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fa.t, fa.ln = t, ln
	fa.wg.Add(1)
	go fa.accept()
	t.Cleanup(func() { ln.Close(); fa.wg.Wait() })
	return ln.Addr().String()
}

func (fa *fakeAgent) accept() {
	defer fa.wg.Done()
	for {
		nc, err := fa.ln.Accept()
		if err != nil {
			return
		}
		fa.wg.Add(1)
		go func() { defer fa.wg.Done(); fa.serve(nc) }()
	}
}

func (fa *fakeAgent) serve(nc net.Conn) {
	defer nc.Close()
	a := &agentConn{nc: nc}
	if a.send(wire.Request, wire.CodeNotifyConnectionStatus, 0, &wire.NotifyConnectionStatus{ProtocolVersion: 4}) != nil {
		return
	}
	rr := wire.NewRecordReader(nc, 0)
	for {
		rec, err := rr.Next()
		if err != nil {
			return
		}
		h, _, err := wire.DecodeHeader(rec)
		if err != nil {
			return
		}
		switch h.Code {
		case wire.CodeConnectOpen:
			a.reply(h, &wire.ErrorReply{})
		case wire.CodeConnectClientAuth:
			a.reply(h, &wire.ErrorReply{})
			if fa.onAuthed != nil {
				go fa.onAuthed(a)
			}
		case wire.CodeConnectClose:
			a.reply(h, &wire.ConnectCloseReply{})
			return
		default:
			if fa.onRequest != nil {
				fa.onRequest(a, h)
			}
		}
	}
}

func logPost(i int) *wire.LogMessage {
	return &wire.LogMessage{LogType: wire.LogNormal, MessageID: uint32(i), Entry: fmt.Sprintf("entry %d", i)}
}

// A handler that makes a call while the post queue is full must get its
// reply: the reader reads on past the queue limit while a call waits.
func TestPostHandlerCallsDoNotDeadlock(t *testing.T) {
	const n = 200
	fa := &fakeAgent{
		onAuthed: func(a *agentConn) {
			for i := range n {
				if a.send(wire.Request, wire.CodeLogMessage, 0, logPost(i)) != nil {
					return
				}
			}
		},
		onRequest: func(a *agentConn, h wire.Header) {
			a.reply(h, &wire.ConfigGetHostInfoReply{Hostname: "fake"})
		},
	}
	addr := startFakeAgent(t, fa)
	var (
		c      *Conn
		got    []uint32
		all    = make(chan struct{})
		errc   = make(chan error, n)
		cReady = make(chan struct{})
	)
	handler := func(p Post) {
		<-cReady
		m := p.Body.(*wire.LogMessage)
		got = append(got, m.MessageID)
		if m.MessageID%50 == 0 {
			info, err := c.HostInfo(context.Background())
			if err == nil && info.Hostname != "fake" {
				err = fmt.Errorf("host %q", info.Hostname)
			}
			errc <- err
		}
		if len(got) == n {
			close(all)
		}
	}
	var err error
	c, err = Dial(testCtx(t), addr, Options{Auth: AuthText, PostQueue: 2, Posts: handler})
	if err != nil {
		t.Fatal(err)
	}
	close(cReady)
	select {
	case <-all:
	case <-time.After(time.Minute):
		t.Fatalf("delivered %d of %d posts", len(got), n)
	}
	c.Close()
	close(errc)
	for err := range errc {
		if err != nil {
			t.Fatalf("HostInfo from the handler: %v", err)
		}
	}
	for i, id := range got {
		if id != uint32(i) {
			t.Fatalf("post %d has id %d: out of order", i, id)
		}
	}
}

// Without a waiting call, a full queue stops the reader: the queue never
// holds more than PostQueue posts, and everything arrives once the
// handler moves on.
func TestPostQueueBounded(t *testing.T) {
	const n, limit = 100, 8
	fa := &fakeAgent{onAuthed: func(a *agentConn) {
		for i := range n {
			if a.send(wire.Request, wire.CodeLogMessage, 0, logPost(i)) != nil {
				return
			}
		}
	}}
	addr := startFakeAgent(t, fa)
	release := make(chan struct{})
	var count int
	done := make(chan struct{})
	handler := func(p Post) {
		<-release
		count++
		if count == n {
			close(done)
		}
	}
	c := dial(t, addr, Options{Auth: AuthText, PostQueue: limit, Posts: handler})
	deadline := time.Now().Add(time.Minute)
	for queued(c) < limit && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // give an unbounded reader the chance to overrun
	if q := queued(c); q != limit {
		t.Fatalf("queue holds %d posts, want %d", q, limit)
	}
	close(release)
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatalf("delivered %d of %d posts", count, n)
	}
}

func queued(c *Conn) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.posts)
}

// A reply that arrives after its call timed out is dropped, and the
// connection carries on.
func TestLateReplyDropped(t *testing.T) {
	slow := make(chan struct{})
	fa := &fakeAgent{onRequest: func(a *agentConn, h wire.Header) {
		if h.Code == wire.CodeConfigGetFsInfo {
			go func() { <-slow; a.reply(h, &wire.ConfigGetFsInfoReply{}) }()
			return
		}
		a.reply(h, &wire.ConfigGetHostInfoReply{Hostname: "fake"})
	}}
	addr := startFakeAgent(t, fa)
	c := dial(t, addr, Options{Auth: AuthText})
	ctx := testCtx(t)
	var fs wire.ConfigGetFsInfoReply
	if err := c.CallTimeout(ctx, 100*time.Millisecond, wire.CodeConfigGetFsInfo, nil, &fs); err == nil {
		t.Fatal("no timeout")
	}
	close(slow)
	for range 3 {
		info, err := c.HostInfo(ctx)
		if err != nil || info.Hostname != "fake" {
			t.Fatalf("HostInfo after a late reply: %+v, %v", info, err)
		}
	}
}

// When the agent hangs up, waiting calls fail with ErrClosed at once.
func TestAgentHangUp(t *testing.T) {
	fa := &fakeAgent{onRequest: func(a *agentConn, h wire.Header) { a.nc.Close() }}
	addr := startFakeAgent(t, fa)
	c := dial(t, addr, Options{Auth: AuthText})
	_, err := c.HostInfo(testCtx(t))
	if err == nil {
		t.Fatal("HostInfo on a dead connection succeeded")
	}
	<-c.Done()
	if _, err := c.HostInfo(testCtx(t)); err == nil {
		t.Fatal("call after hang-up succeeded")
	}
}

// versionAgent refuses CONNECT_OPEN above maxV and records the auth
// type used; it offers offered in its greeting and authTypes in
// CONFIG_GET_SERVER_INFO.
func versionAgent(t *testing.T, offered uint16, maxV uint16, authTypes []wire.AuthType, gotAuth *wire.AuthType) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		defer nc.Close()
		a := &agentConn{nc: nc}
		a.send(wire.Request, wire.CodeNotifyConnectionStatus, 0, &wire.NotifyConnectionStatus{ProtocolVersion: offered})
		rr := wire.NewRecordReader(nc, 0)
		v := wire.Version(offered)
		for {
			rec, err := rr.Next()
			if err != nil {
				return
			}
			h, body, err := wire.DecodeHeader(rec)
			if err != nil {
				return
			}
			switch h.Code {
			case wire.CodeConnectOpen:
				var r wire.ConnectOpenRequest
				decode(body, &r, v)
				e := wire.ErrNone
				if r.ProtocolVersion > maxV {
					e = wire.ErrIllegalArgs
				} else {
					v = wire.Version(r.ProtocolVersion)
				}
				a.reply(h, &wire.ErrorReply{Error: e})
			case wire.CodeConfigGetServerInfo:
				a.reply(h, &wire.ConfigGetServerInfoReply{VendorName: "fake", AuthType: authTypes})
			case wire.CodeConfigGetAuthAttr:
				a.reply(h, &wire.ConfigGetAuthAttrReply{ServerAttr: wire.AuthAttr{AuthType: wire.AuthMD5}})
			case wire.CodeConnectClientAuth:
				var r wire.ConnectClientAuthRequest
				if err := decode(body, &r, v); err != nil {
					t.Errorf("auth request in v%d: %v", v, err)
				}
				*gotAuth = r.AuthData.AuthType
				a.reply(h, &wire.ErrorReply{})
			case wire.CodeConnectClose:
				return
			default:
				a.send(wire.Reply, h.Code, h.Sequence, nil)
			}
		}
	}()
	return ln.Addr().String()
}

func TestNegotiateDown(t *testing.T) {
	cases := []struct {
		name          string
		offered, maxV uint16
		want          wire.Version
		auth          []wire.AuthType
		wantAuth      wire.AuthType
	}{
		{"offers-4-refuses-4", 4, 3, wire.V3, []wire.AuthType{wire.AuthText, wire.AuthMD5}, wire.AuthMD5},
		{"offers-3", 3, 4, wire.V3, []wire.AuthType{wire.AuthText}, wire.AuthText},
		{"offers-4", 4, 4, wire.V4, []wire.AuthType{wire.AuthNone}, wire.AuthNone},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got wire.AuthType = 99
			addr := versionAgent(t, tc.offered, tc.maxV, tc.auth, &got)
			c, err := Dial(testCtx(t), addr, Options{User: "u", Password: "p"})
			if err != nil {
				t.Fatal(err)
			}
			v := c.Version()
			c.Close()
			if v != tc.want || got != tc.wantAuth {
				t.Fatalf("version %d auth %v, want %d %v", v, got, tc.want, tc.wantAuth)
			}
		})
	}
	var got wire.AuthType
	addr := versionAgent(t, 4, 2, nil, &got)
	if _, err := Dial(testCtx(t), addr, Options{}); !errors.Is(err, ErrVersion) {
		t.Fatalf("agent refusing v3 and v4: %v, want ErrVersion", err)
	}
}
