package server

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	"ferry/internal/ndmp/wire"
	"ferry/internal/xdr"
)

func TestSessionGreeting(t *testing.T) {
	ts := newTestServer(t)
	c := ts.client(t)
	if c.first.Reason != wire.ConnectionConnected || c.first.ProtocolVersion != 4 {
		t.Errorf("greeting %+v", c.first)
	}
}

func TestVersionNegotiation(t *testing.T) {
	ts := newTestServer(t)
	c := ts.client(t)
	for _, v := range []uint16{5, 2, 0} {
		if e := c.callErr(wire.CodeConnectOpen, &wire.ConnectOpenRequest{ProtocolVersion: v}); e != wire.ErrIllegalArgs {
			t.Errorf("CONNECT_OPEN(%d) = %v, want ILLEGAL_ARGS", v, e)
		}
	}
	c.open(wire.V3)
	c.open(wire.V3) // the same version again is fine
	if e := c.callErr(wire.CodeConnectOpen, &wire.ConnectOpenRequest{ProtocolVersion: 4}); e != wire.ErrIllegalArgs {
		t.Errorf("second CONNECT_OPEN(4) after 3 = %v, want ILLEGAL_ARGS", e)
	}
	// v3 has no extension negotiation.
	if he := c.call(wire.CodeConfigGetExtList, &wire.ConfigGetExtListRequest{}, nil); he != wire.ErrNotSupported {
		t.Errorf("v3 GET_EXT_LIST header error %v, want NOT_SUPPORTED", he)
	}

	// Any other request first accepts the offered v4.
	c = ts.client(t)
	var info wire.ConfigGetServerInfoReply
	if he := c.call(wire.CodeConfigGetServerInfo, &wire.ConfigGetServerInfoRequest{}, &info); he != wire.ErrNone {
		t.Fatal(he)
	}
	if e := c.callErr(wire.CodeConnectOpen, &wire.ConnectOpenRequest{ProtocolVersion: 3}); e != wire.ErrIllegalArgs {
		t.Errorf("CONNECT_OPEN(3) after implicit v4 = %v, want ILLEGAL_ARGS", e)
	}
	c.open(wire.V4)
}

func TestAuthentication(t *testing.T) {
	// Five failures on one connection: allowed here, without delays, to
	// check each case (guard_test.go checks the limits).
	ts := newTestServer(t, func(c *Config) {
		c.MaxAuthFailures = 10
		c.AuthThrottle.Backoff, c.AuthThrottle.MaxBackoff = time.Microsecond, time.Microsecond
	})
	c := ts.client(t)
	c.open(wire.V4)
	auth := func(a wire.AuthData) wire.Error {
		return c.callErr(wire.CodeConnectClientAuth, &wire.ConnectClientAuthRequest{AuthData: a})
	}
	for _, tc := range []struct {
		a    wire.AuthData
		want wire.Error
	}{
		{wire.AuthData{AuthType: wire.AuthNone}, wire.ErrIllegalArgs},
		{wire.AuthData{AuthType: wire.AuthText, AuthID: testUser, AuthPassword: "wrong"}, wire.ErrNotAuthorized},
		{wire.AuthData{AuthType: wire.AuthText, AuthID: "nobody", AuthPassword: testPassword}, wire.ErrNotAuthorized},
		{wire.AuthData{AuthType: wire.AuthText, AuthID: testUser, AuthPassword: ""}, wire.ErrNotAuthorized},
		// MD5 without a challenge handed out.
		{wire.AuthData{AuthType: wire.AuthMD5, AuthID: testUser}, wire.ErrNotAuthorized},
	} {
		if e := auth(tc.a); e != tc.want {
			t.Errorf("auth %v %q/%q = %v, want %v", tc.a.AuthType, tc.a.AuthID, tc.a.AuthPassword, e, tc.want)
		}
	}
	// Still not authorized.
	if he := c.call(wire.CodeTapeGetState, &wire.TapeGetStateRequest{}, nil); he != wire.ErrNotAuthorized {
		t.Errorf("TAPE_GET_STATE after failed auth: header %v", he)
	}

	// MD5: a fresh challenge each time; the right digest works once.
	ch1, ch2 := challenge(t, c), challenge(t, c)
	if bytes.Equal(ch1[:], ch2[:]) {
		t.Error("GET_AUTH_ATTR returned the same challenge twice")
	}
	stale := wire.AuthData{AuthType: wire.AuthMD5, AuthID: testUser, AuthDigest: md5Digest(testPassword, ch1[:])}
	if e := auth(stale); e != wire.ErrNotAuthorized {
		t.Errorf("digest over a stale challenge = %v", e)
	}
	ch3 := challenge(t, c)
	good := wire.AuthData{AuthType: wire.AuthMD5, AuthID: testUser, AuthDigest: md5Digest(testPassword, ch3[:])}
	if e := auth(good); e != wire.ErrNone {
		t.Fatalf("MD5 auth = %v", e)
	}
	var st wire.TapeGetStateReply
	if he := c.call(wire.CodeTapeGetState, &wire.TapeGetStateRequest{}, &st); he != wire.ErrNone || st.Error != wire.ErrDevNotOpen {
		t.Errorf("TAPE_GET_STATE after auth: header %v body %v", he, st.Error)
	}

	// The server has no credentials of its own to prove.
	var sa wire.ConnectServerAuthReply
	c.call(wire.CodeConnectServerAuth, &wire.ConnectServerAuthRequest{ClientAttr: wire.AuthAttr{AuthType: wire.AuthMD5}}, &sa)
	if sa.Error != wire.ErrNotSupported {
		t.Errorf("SERVER_AUTH(MD5): %v", sa.Error)
	}
	c.call(wire.CodeConnectServerAuth, &wire.ConnectServerAuthRequest{ClientAttr: wire.AuthAttr{AuthType: wire.AuthNone}}, &sa)
	if sa.Error != wire.ErrNone || sa.ServerResult.AuthType != wire.AuthNone {
		t.Errorf("SERVER_AUTH(NONE): %+v", sa)
	}
}

func challenge(t *testing.T, c *testClient) [64]byte {
	t.Helper()
	var r wire.ConfigGetAuthAttrReply
	if he := c.call(wire.CodeConfigGetAuthAttr, &wire.ConfigGetAuthAttrRequest{AuthType: wire.AuthMD5}, &r); he != wire.ErrNone || r.Error != wire.ErrNone {
		t.Fatalf("GET_AUTH_ATTR: %v %v", he, r.Error)
	}
	return r.ServerAttr.Challenge
}

// The digest layout, checked against an independent construction of the
// 128-byte message and a fixed vector.
func TestMD5Digest(t *testing.T) {
	var ch [64]byte
	for i := range ch {
		ch[i] = byte(i * 7)
	}
	for _, pw := range []string{"ndmp", "a", "0123456789abcdef0123456789abcdef", "0123456789abcdef0123456789abcdefXYZ"} {
		p := pw
		if len(p) > 32 {
			p = p[:32]
		}
		msg := p + string(make([]byte, 64-2*len(p))) + string(ch[:]) + p
		msg += string(make([]byte, 128-len(msg)))
		want := md5.Sum([]byte(msg[:128]))
		if got := md5Digest(pw, ch[:]); got != want {
			t.Errorf("md5Digest(%q) = %x, want %x", pw, got, want)
		}
	}
	// Computed with Python's hashlib over the layout of ndml_md5.c.
	got := md5Digest("ndmp", ch[:])
	if h := hex.EncodeToString(got[:]); h != "d6deb2460de5f3abb89581fd6a4839d4" {
		t.Errorf("md5Digest vector = %s", h)
	}
}

// A server configured without credentials is open: AUTH_NONE, and only it.
func TestOpenServer(t *testing.T) {
	ts := newTestServer(t, func(cfg *Config) { cfg.Credentials = nil })
	c := ts.client(t)
	var info wire.ConfigGetServerInfoReply
	c.call(wire.CodeConfigGetServerInfo, &wire.ConfigGetServerInfoRequest{}, &info)
	if len(info.AuthType) != 1 || info.AuthType[0] != wire.AuthNone {
		t.Errorf("auth types %v", info.AuthType)
	}
	text := wire.AuthData{AuthType: wire.AuthText, AuthID: testUser, AuthPassword: testPassword}
	if e := c.callErr(wire.CodeConnectClientAuth, &wire.ConnectClientAuthRequest{AuthData: text}); e != wire.ErrNotAuthorized {
		t.Errorf("TEXT on an open server: %v", e)
	}
	if e := c.callErr(wire.CodeConnectClientAuth, &wire.ConnectClientAuthRequest{}); e != wire.ErrNone {
		t.Errorf("NONE on an open server: %v", e)
	}
	var st wire.TapeGetStateReply
	if he := c.call(wire.CodeTapeGetState, &wire.TapeGetStateRequest{}, &st); he != wire.ErrNone {
		t.Errorf("after AUTH_NONE: %v", he)
	}
}

func TestPreAuthRefusals(t *testing.T) {
	ts := newTestServer(t)
	c := ts.client(t)
	for _, tc := range []struct {
		code wire.Code
		req  wire.Body
	}{
		{wire.CodeConfigGetHostInfo, &wire.ConfigGetHostInfoRequest{}},
		{wire.CodeDataGetState, &wire.DataGetStateRequest{}},
		{wire.CodeDataStartBackup, &wire.DataStartBackupRequest{ButypeName: "tar"}},
		{wire.CodeTapeOpen, &wire.TapeOpenRequest{Device: "tape0"}},
		{wire.CodeTapeGetState, &wire.TapeGetStateRequest{}},
		{wire.CodeMoverGetState, &wire.MoverGetStateRequest{}},
		{wire.CodeMoverListen, &wire.MoverListenRequest{AddrType: wire.AddrTCP}},
		{wire.CodeScsiOpen, &wire.ScsiOpenRequest{Device: "changer0"}},
		{wire.CodeScsiExecuteCdb, &wire.ScsiExecuteCdbRequest{Cdb: []byte{0, 0, 0, 0, 0, 0}}},
	} {
		if he := c.call(tc.code, tc.req, nil); he != wire.ErrNotAuthorized {
			t.Errorf("%v before auth: header error %v, want NOT_AUTHORIZED", tc.code, he)
		}
	}
	var info wire.ConfigGetServerInfoReply
	if he := c.call(wire.CodeConfigGetServerInfo, &wire.ConfigGetServerInfoRequest{}, &info); he != wire.ErrNone {
		t.Errorf("GET_SERVER_INFO before auth: %v", he)
	}
	if info.VendorName != "ferry" || len(info.AuthType) != 2 {
		t.Errorf("server info %+v", info)
	}
}

func TestBadRequests(t *testing.T) {
	ts := newTestServer(t)
	c := ts.client(t)
	c.login(wire.V4, testUser, testPassword)

	for _, code := range []wire.Code{0x12345, 0x20500104, 0x7ff00000, 0x40C, 0x306, wire.CodeScsiSetTarget, wire.CodeNotifyDataHalted} {
		if he := c.call(code, nil, nil); he != wire.ErrNotSupported {
			t.Errorf("code %v: header error %v, want NOT_SUPPORTED", code, he)
		}
	}
	// Undecodable bodies: truncated, a bad union arm, trailing bytes.
	for _, tc := range []struct {
		code wire.Code
		body []byte
	}{
		{wire.CodeTapeOpen, []byte{0, 0, 0, 9, 't'}},
		{wire.CodeConnectClientAuth, xdr.AppendUint32(nil, 77)},
		{wire.CodeTapeGetState, []byte{0, 0, 0, 0}},
		{wire.CodeMoverListen, []byte{0, 0}},
	} {
		seq := c.sendRaw(tc.code, tc.body)
		if he := c.await(seq, tc.code, nil); he != wire.ErrXDRDecode {
			t.Errorf("%v with body %x: header error %v, want XDR_DECODE", tc.code, tc.body, he)
		}
	}
	// A stray REPLY from the DMA is ignored; a record shorter than a header
	// is discarded; the session still answers.
	h := wire.Header{Sequence: 99, Type: wire.Reply, Code: wire.CodeTapeOpen}
	c.conn.Write(wire.AppendMessage(nil, h, nil, wire.V4))
	c.conn.Write([]byte{0x80, 0, 0, 3, 1, 2, 3})
	var st wire.TapeGetStateReply
	if he := c.call(wire.CodeTapeGetState, &wire.TapeGetStateRequest{}, &st); he != wire.ErrNone || st.Error != wire.ErrDevNotOpen {
		t.Errorf("after junk: %v %v", he, st.Error)
	}
}

func TestConnectClose(t *testing.T) {
	ts := newTestServer(t)
	c := ts.client(t)
	c.open(wire.V4)
	c.send(wire.CodeConnectClose, nil)
	c.expectClosed()
	for _, h := range c.posts {
		if h.Type == wire.Reply {
			t.Errorf("reply %v to CONNECT_CLOSE", h.Code)
		}
	}
}

// A broken session (oversized record, garbage, a peer that stops reading)
// ends alone; another session keeps working throughout.
func TestSessionIsolation(t *testing.T) {
	ts := newTestServer(t)
	good := ts.client(t)
	good.login(wire.V4, testUser, testPassword)
	check := func(when string) {
		var r wire.ConfigGetHostInfoReply
		if he := good.call(wire.CodeConfigGetHostInfo, &wire.ConfigGetHostInfoRequest{}, &r); he != wire.ErrNone || r.Hostname == "" {
			t.Fatalf("%s: good session: %v %+v", when, he, r)
		}
	}

	// A record over the cap is skipped and answered with a header error.
	big := ts.client(t)
	big.login(wire.V4, testUser, testPassword)
	h := wire.Header{Sequence: 77, Type: wire.Request, Code: wire.CodeTapeWrite}
	rec := h.AppendXDR(nil)
	rec = append(rec, make([]byte, DefaultMaxRecord)...)
	go big.conn.Write(append(xdr.AppendUint32(nil, 1<<31|uint32(len(rec))), rec...))
	if he := big.await(77, wire.CodeTapeWrite, nil); he != wire.ErrXDRDecode {
		t.Errorf("oversized TAPE_WRITE: header error %v, want XDR_DECODE", he)
	}
	check("after oversized record")
	var st wire.TapeGetStateReply
	if he := big.call(wire.CodeTapeGetState, &wire.TapeGetStateRequest{}, &st); he != wire.ErrNone {
		t.Errorf("session after oversized record: %v", he)
	}

	garbage := ts.client(t)
	garbage.conn.Write(bytes.Repeat([]byte{0x7f, 0xff, 0xff, 0xff}, 4))
	garbage.conn.(*net.TCPConn).CloseWrite()
	garbage.expectClosed()
	check("after garbage")

	// A peer that sends requests but never reads replies.
	stuck := ts.client(t)
	stuck.login(wire.V4, testUser, testPassword)
	for range 200 {
		stuck.send(wire.CodeConfigGetTapeInfo, &wire.ConfigGetTapeInfoRequest{})
	}
	check("with a stuck peer")

	// A half-sent record.
	half := ts.client(t)
	half.conn.Write([]byte{0x80, 0, 1, 0, 0, 0})
	check("with a half-sent record")
}

func TestShutdownNotifiesSessions(t *testing.T) {
	ts := newTestServer(t)
	var cs []*testClient
	for range 3 {
		c := ts.client(t)
		c.login(wire.V4, testUser, testPassword)
		cs = append(cs, c)
	}
	ts.loadDrive(t, "tape0")
	if e := cs[0].callErr(wire.CodeTapeOpen, &wire.TapeOpenRequest{Device: "tape0", Mode: wire.TapeRdwrMode}); e != wire.ErrNone {
		t.Fatal(e)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ts.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	for i, c := range cs {
		h, body := c.read()
		var n wire.NotifyConnectionStatus
		if h.Code != wire.CodeNotifyConnectionStatus || decodeBody(body, &n, wire.V4) != nil || n.Reason != wire.ConnectionShutdown {
			t.Errorf("client %d: got %v %+v, want NOTIFY_CONNECTION_STATUS(SHUTDOWN)", i, h.Code, n)
		}
		c.expectClosed()
	}
	// The drive was released: the library can open it again.
	m, err := ts.lib.OpenDrive("tape0", true)
	if err != nil {
		t.Fatalf("drive still held after shutdown: %v", err)
	}
	ts.lib.CloseDrive("tape0", m)
	if _, err := net.DialTimeout("tcp", ts.addr, time.Second); err == nil {
		t.Error("listener still accepting after Shutdown")
	}
	// A connection that slips in during shutdown is refused politely.
	pc, sc := net.Pipe()
	defer pc.Close()
	go ts.start(sc) // refusing writes to the pipe, which blocks until read
	rc := &testClient{t: t, conn: pc, rr: wire.NewRecordReader(pc, 0)}
	h, body := rc.read()
	var n wire.NotifyConnectionStatus
	if h.Code != wire.CodeNotifyConnectionStatus || decodeBody(body, &n, wire.V4) != nil || n.Reason != wire.ConnectionRefused {
		t.Errorf("late connection: %v %+v, want NOTIFY_CONNECTION_STATUS(REFUSED)", h.Code, n)
	}
	rc.expectClosed()
}

func TestConcurrentSessions(t *testing.T) {
	ts := newTestServer(t)
	drives := ts.lib.DriveNames()
	for _, d := range drives {
		ts.loadDrive(t, d)
	}
	var wg sync.WaitGroup
	errs := make(chan string, 64)
	for i := range 32 {
		wg.Go(func() {
			ct := &collectT{TB: t, errs: errs}
			c := dialClient(ct, ts.addr)
			c.login(wire.V4, testUser, testPassword)
			var ti wire.ConfigGetTapeInfoReply
			c.call(wire.CodeConfigGetTapeInfo, &wire.ConfigGetTapeInfoRequest{}, &ti)
			if len(ti.TapeInfo) != len(drives) {
				errs <- "tape info"
			}
			e := c.callErr(wire.CodeTapeOpen, &wire.TapeOpenRequest{Device: drives[i%len(drives)], Mode: wire.TapeReadMode})
			if e != wire.ErrNone && e != wire.ErrDeviceBusy {
				errs <- "tape open: " + e.String()
			}
			c.send(wire.CodeConnectClose, nil)
			c.expectClosed()
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// collectT lets client helpers run in goroutines: failures become messages
// and end the goroutine.
type collectT struct {
	testing.TB
	errs chan<- string
}

func (c *collectT) Fatalf(format string, args ...any) {
	c.errs <- "fatal: " + format
	runtime.Goexit()
}

func (c *collectT) Fatal(args ...any) {
	c.errs <- "fatal"
	runtime.Goexit()
}

func (c *collectT) Helper() {}

func TestAuthTimeout(t *testing.T) {
	ts := newTestServer(t, func(cfg *Config) { cfg.AuthTimeout = 200 * time.Millisecond })
	idle := ts.client(t)
	authed := ts.client(t)
	authed.login(wire.V4, testUser, testPassword)
	idle.open(wire.V4)
	idle.expectClosed()
	if len(idle.posts) != 1 || idle.posts[0].Code != wire.CodeNotifyConnectionStatus {
		t.Errorf("before closing, the server sent %v; want NOTIFY_CONNECTION_STATUS", idle.posts)
	}
	time.Sleep(100 * time.Millisecond)
	var st wire.TapeGetStateReply
	if he := authed.call(wire.CodeTapeGetState, &wire.TapeGetStateRequest{}, &st); he != wire.ErrNone {
		t.Errorf("authenticated session after the auth timeout: %v", he)
	}
}

func TestPickIPv4(t *testing.T) {
	ip := net.ParseIP
	hosts := []hostIface{
		{ips: []net.IP{ip("fe80::1"), ip("192.0.2.7")}},
		{ips: []net.IP{ip("2001:db8::5"), ip("198.51.100.9")}},
		{ips: []net.IP{ip("2001:db8::9")}},
	}
	for local, want := range map[string]string{
		"2001:db8::5": "198.51.100.9", // the interface the session arrived on
		"2001:db8::9": "192.0.2.7",    // that interface has no IPv4: any other's
	} {
		if got := pickIPv4(ip(local), hosts); !got.Equal(ip(want)) {
			t.Errorf("session on %s advertises %v, want %s", local, got, want)
		}
	}
	if got := pickIPv4(ip("2001:db8::9"), hosts[2:]); got != nil {
		t.Errorf("no IPv4 anywhere: %v, want nil (127.0.0.1)", got)
	}
}
