package server

import (
	"io"
	"net"
	"testing"
	"time"

	"ferry/internal/ndmp/wire"
)

// pipeSession runs a session over an in-memory pipe and returns the
// client's end.
func (ts *testServer) pipeSession() net.Conn {
	client, server := net.Pipe()
	ts.start(server)
	return client
}

// sessionCount is the number of live sessions.
func (s *Server) sessionCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}

// FuzzSession feeds arbitrary bytes to a session as its input stream and
// checks that the server survives: the session ends when the input does,
// and a new session still negotiates. Seeds (testdata/fuzz/FuzzSession)
// log in and then send requests of every service, so mutations reach the
// handlers behind authentication.
func FuzzSession(f *testing.F) {
	ts := newTestServer(f)
	ts.loadDrive(f, "tape0")
	login := loginRecords()
	f.Add(login)
	f.Add(append(login, record(2, wire.CodeTapeOpen, &wire.TapeOpenRequest{Device: "tape0", Mode: wire.TapeRdwrMode})...))
	f.Fuzz(func(t *testing.T, in []byte) {
		c := ts.pipeSession()
		done := make(chan struct{})
		go func() {
			io.Copy(io.Discard, c)
			close(done)
		}()
		c.SetWriteDeadline(time.Now().Add(5 * time.Second))
		c.Write(in)
		c.Close()
		<-done
		waitSessions(t, ts.Server, 0)

		c = ts.pipeSession()
		defer c.Close()
		tc := newTestClient(t, c)
		tc.open(wire.V4)
	})
}

func waitSessions(t testing.TB, s *Server, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for s.sessionCount() != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d sessions still running", s.sessionCount())
		}
		time.Sleep(time.Millisecond)
	}
}

// record encodes one request record.
func record(seq uint32, code wire.Code, body wire.Body) []byte {
	h := wire.Header{Sequence: seq, Type: wire.Request, Code: code}
	return wire.AppendMessage(nil, h, body, wire.V4)
}

// loginRecords is CONNECT_OPEN(4) and TEXT authentication.
func loginRecords() []byte {
	b := record(1, wire.CodeConnectOpen, &wire.ConnectOpenRequest{ProtocolVersion: 4})
	return append(b, record(2, wire.CodeConnectClientAuth, &wire.ConnectClientAuthRequest{AuthData: wire.AuthData{
		AuthType: wire.AuthText, AuthID: testUser, AuthPassword: testPassword,
	}})...)
}

// Session setup latency on loopback: connect, NOTIFY_CONNECTION_STATUS,
// CONNECT_OPEN and its reply.
func BenchmarkSessionSetup(b *testing.B) {
	ts := newTestServer(b)
	open := record(1, wire.CodeConnectOpen, &wire.ConnectOpenRequest{ProtocolVersion: 4})
	b.ReportAllocs()
	for b.Loop() {
		c, err := net.Dial("tcp", ts.addr)
		if err != nil {
			b.Fatal(err)
		}
		rr := wire.NewRecordReader(c, 0)
		if _, err := rr.Next(); err != nil {
			b.Fatal(err)
		}
		c.Write(open)
		rec, err := rr.Next()
		if err != nil {
			b.Fatal(err)
		}
		if h, _, _ := wire.DecodeHeader(rec); h.Code != wire.CodeConnectOpen || h.Type != wire.Reply {
			b.Fatalf("reply %v", h.Code)
		}
		c.Close()
	}
}

// TAPE_WRITE throughput over loopback with 256 KiB records (the DMA writes
// through the TAPE interface; the mover's path is benchmarked in package
// mover).
func BenchmarkTapeWrite(b *testing.B) {
	ts := newTestServer(b)
	ts.loadDrive(b, "tape0")
	c := ts.client(b)
	c.login(wire.V4, testUser, testPassword)
	if e := c.callErr(wire.CodeTapeOpen, &wire.TapeOpenRequest{Device: "tape0", Mode: wire.TapeRdwrMode}); e != wire.ErrNone {
		b.Fatal(e)
	}
	req := &wire.TapeWriteRequest{DataOut: make([]byte, 256<<10)}
	var reply wire.TapeWriteReply
	b.SetBytes(int64(len(req.DataOut)))
	for b.Loop() {
		if c.call(wire.CodeTapeWrite, req, &reply); reply.Error != wire.ErrNone {
			b.Fatal(reply.Error)
		}
	}
}
