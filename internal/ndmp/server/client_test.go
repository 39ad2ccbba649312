package server

import (
	"errors"
	"net"
	"testing"
	"time"

	"ferry/internal/ndmp/wire"
	"ferry/internal/xdr"
)

// testClient is a minimal raw NDMP client for tests: one request at a
// time, posts collected on the side.
type testClient struct {
	t       testing.TB
	conn    net.Conn
	rr      *wire.RecordReader
	seq     uint32
	version wire.Version
	posts   []wire.Header
	first   wire.NotifyConnectionStatus
}

// dialClient connects and reads the server's NOTIFY_CONNECTION_STATUS.
func dialClient(t testing.TB, addr string) *testClient {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return newTestClient(t, c)
}

func newTestClient(t testing.TB, c net.Conn) *testClient {
	t.Helper()
	tc := &testClient{t: t, conn: c, rr: wire.NewRecordReader(c, 0), version: wire.V4}
	h, body := tc.read()
	if h.Code != wire.CodeNotifyConnectionStatus || h.Type != wire.Request {
		t.Fatalf("first message %v type %v, want NOTIFY_CONNECTION_STATUS request", h.Code, h.Type)
	}
	if err := decodeBody(body, &tc.first, wire.V4); err != nil {
		t.Fatalf("decode NOTIFY_CONNECTION_STATUS: %v", err)
	}
	return tc
}

// read returns the next message; it fails the test on a read error.
func (c *testClient) read() (wire.Header, []byte) {
	c.t.Helper()
	h, body, err := c.tryRead()
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	return h, body
}

func (c *testClient) tryRead() (wire.Header, []byte, error) {
	c.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	rec, err := c.rr.Next()
	if err != nil {
		return wire.Header{}, nil, err
	}
	h, body, err := wire.DecodeHeader(rec)
	return h, append([]byte(nil), body...), err
}

// send writes a request and returns its sequence number.
func (c *testClient) send(code wire.Code, req wire.Body) uint32 {
	c.t.Helper()
	c.seq++
	h := wire.Header{Sequence: c.seq, Type: wire.Request, Code: code}
	if _, err := c.conn.Write(wire.AppendMessage(nil, h, req, c.version)); err != nil {
		c.t.Fatalf("write %v: %v", code, err)
	}
	return c.seq
}

// sendRaw writes body bytes after a request header for code.
func (c *testClient) sendRaw(code wire.Code, body []byte) uint32 {
	c.t.Helper()
	c.seq++
	h := wire.Header{Sequence: c.seq, Type: wire.Request, Code: code}
	rec := h.AppendXDR(nil)
	rec = append(rec, body...)
	mark := xdr.AppendUint32(nil, 1<<31|uint32(len(rec)))
	if _, err := c.conn.Write(append(mark, rec...)); err != nil {
		c.t.Fatalf("write raw: %v", err)
	}
	return c.seq
}

// call sends req and decodes the reply into reply (which may be nil). It
// returns the header error.
func (c *testClient) call(code wire.Code, req, reply wire.Body) wire.Error {
	c.t.Helper()
	seq := c.send(code, req)
	return c.await(seq, code, reply)
}

func (c *testClient) await(seq uint32, code wire.Code, reply wire.Body) wire.Error {
	c.t.Helper()
	for {
		h, body := c.read()
		if h.Type == wire.Request {
			c.posts = append(c.posts, h)
			continue
		}
		if h.ReplySequence != seq || h.Code != code {
			c.t.Fatalf("reply %v seq %d, want %v seq %d", h.Code, h.ReplySequence, code, seq)
		}
		if h.Error != wire.ErrNone || reply == nil {
			return h.Error
		}
		if err := decodeBody(body, reply, c.version); err != nil {
			c.t.Fatalf("decode %v reply: %v", code, err)
		}
		return wire.ErrNone
	}
}

// callErr calls a request whose reply is an ErrorReply and returns the
// body error, failing on a header error.
func (c *testClient) callErr(code wire.Code, req wire.Body) wire.Error {
	c.t.Helper()
	var r wire.ErrorReply
	if he := c.call(code, req, &r); he != wire.ErrNone {
		c.t.Fatalf("%v: header error %v", code, he)
	}
	return r.Error
}

// open negotiates version v.
func (c *testClient) open(v wire.Version) {
	c.t.Helper()
	if e := c.callErr(wire.CodeConnectOpen, &wire.ConnectOpenRequest{ProtocolVersion: uint16(v)}); e != wire.ErrNone {
		c.t.Fatalf("CONNECT_OPEN(%d): %v", v, e)
	}
	c.version = v
}

// login opens version v and authenticates with TEXT.
func (c *testClient) login(v wire.Version, user, password string) {
	c.t.Helper()
	c.open(v)
	e := c.callErr(wire.CodeConnectClientAuth, &wire.ConnectClientAuthRequest{AuthData: wire.AuthData{
		AuthType: wire.AuthText, AuthID: user, AuthPassword: password,
	}})
	if e != wire.ErrNone {
		c.t.Fatalf("CLIENT_AUTH: %v", e)
	}
}

// expectClosed waits for the server to close the connection, skipping any
// messages still in flight.
func (c *testClient) expectClosed() {
	c.t.Helper()
	for {
		h, _, err := c.tryRead()
		if err == nil {
			c.posts = append(c.posts, h)
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			c.t.Fatal("connection still open")
		}
		return
	}
}
