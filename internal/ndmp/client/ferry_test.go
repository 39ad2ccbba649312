package client

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"ferry/internal/ndmp/wire"
	"ferry/internal/testsupport/leakcheck"
	"ferry/internal/testsupport/ndmjobtest"
	"ferry/internal/testsupport/ndmptest"
)

func TestMain(m *testing.M) { leakcheck.Main(m, ndmjobtest.Cleanup) }

const (
	testUser     = "ndmp"
	testPassword = "secret"
)

// startFerry runs ferry's NDMP agent on 127.0.0.1:0 over a fresh library
// (no backup method) and returns its address.
func startFerry(t *testing.T) string {
	t.Helper()
	return ndmptest.Start(t, ndmptest.Options{NoEngine: true, User: testUser, Password: testPassword}).Addr
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// dial connects with o and closes the connection at the end of the test.
func dial(t *testing.T, addr string, o Options) *Conn {
	t.Helper()
	c, err := Dial(testCtx(t), addr, o)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestFerryNegotiateAndAuth(t *testing.T) {
	addr := startFerry(t)
	cases := []struct {
		name string
		o    Options
		want wire.Version
	}{
		{"v4-auto", Options{}, wire.V4},
		{"v4-md5", Options{Auth: AuthMD5}, wire.V4},
		{"v4-text", Options{Auth: AuthText}, wire.V4},
		{"v3-md5", Options{Version: wire.V3, Auth: AuthMD5}, wire.V3},
		{"v3-text", Options{Version: wire.V3, Auth: AuthText}, wire.V3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.o.User, tc.o.Password = testUser, testPassword
			c := dial(t, addr, tc.o)
			if c.Version() != tc.want {
				t.Fatalf("version %d, want %d", c.Version(), tc.want)
			}
			info, err := c.ServerInfo(testCtx(t))
			if err != nil || info.VendorName != "ferry" {
				t.Fatalf("ServerInfo = %+v, %v", info, err)
			}
			// Only authenticated sessions may ask for host info.
			if _, err := c.HostInfo(testCtx(t)); err != nil {
				t.Fatalf("HostInfo: %v", err)
			}
		})
	}
}

func TestFerryWrongPassword(t *testing.T) {
	addr := startFerry(t)
	for _, m := range []AuthMode{AuthAuto, AuthMD5, AuthText} {
		_, err := Dial(testCtx(t), addr, Options{User: testUser, Password: "wrong", Auth: m})
		if !errors.Is(err, ErrAuth) || !IsNDMP(err, wire.ErrNotAuthorized) {
			t.Fatalf("mode %d: err = %v, want ErrAuth with NOT_AUTHORIZED", m, err)
		}
	}
}

func TestFerryTapeRoundTrip(t *testing.T) {
	addr := startFerry(t)
	for _, v := range []wire.Version{wire.V4, wire.V3} {
		c := dial(t, addr, Options{User: testUser, Password: testPassword, Version: v})
		tapeRoundTrip(t, c, "tape0")
		c.Close()
	}
}

// tapeRoundTrip writes three records and a filemark at BOT of device,
// reads them back and expects EOF at the filemark.
func tapeRoundTrip(t *testing.T, c *Conn, device string) {
	t.Helper()
	ctx := testCtx(t)
	if err := c.TapeOpen(ctx, device, wire.TapeRdwrMode); err != nil {
		t.Fatalf("TapeOpen: %v", err)
	}
	recs := [][]byte{bytes.Repeat([]byte("a"), 10240), bytes.Repeat([]byte{0xfe}, 65536), []byte("tail")}
	for i, r := range recs {
		n, err := c.TapeWrite(ctx, r)
		if err != nil || n != len(r) {
			t.Fatalf("TapeWrite %d: %d, %v", i, n, err)
		}
	}
	if _, err := c.TapeMtio(ctx, wire.MtioEOF, 1); err != nil {
		t.Fatalf("MTIO EOF: %v", err)
	}
	st, err := c.TapeGetState(ctx)
	if err != nil || st.FileNum != 1 {
		t.Fatalf("TapeGetState = %+v, %v; want file 1", st, err)
	}
	if resid, err := c.TapeMtio(ctx, wire.MtioREW, 1); err != nil || resid != 0 {
		t.Fatalf("MTIO REW: %d %v", resid, err)
	}
	buf := make([]byte, 128<<10)
	for i, r := range recs {
		n, err := c.TapeRead(ctx, buf)
		if err != nil || !bytes.Equal(buf[:n], r) {
			t.Fatalf("TapeRead %d: %d bytes, %v", i, n, err)
		}
	}
	if _, err := c.TapeRead(ctx, buf); !errors.Is(err, wire.ErrEOF) {
		t.Fatalf("TapeRead at filemark: %v, want EOF", err)
	}
	if err := c.TapeClose(ctx); err != nil {
		t.Fatalf("TapeClose: %v", err)
	}
}

func TestFerryRobotInquiry(t *testing.T) {
	addr := startFerry(t)
	c := dial(t, addr, Options{User: testUser, Password: testPassword})
	ctx := testCtx(t)
	info, err := c.ScsiInfo(ctx)
	if err != nil || len(info) == 0 || len(info[0].Caplist) == 0 {
		t.Fatalf("ScsiInfo = %+v, %v", info, err)
	}
	robotInquiry(t, c, info[0].Caplist[0].Device)
}

// robotInquiry opens device through the SCSI service and checks that an
// INQUIRY answers as a medium changer and READ ELEMENT STATUS answers.
func robotInquiry(t *testing.T, c *Conn, device string) {
	t.Helper()
	ctx := testCtx(t)
	if err := c.ScsiOpen(ctx, device); err != nil {
		t.Fatalf("ScsiOpen(%q): %v", device, err)
	}
	rep, err := c.ScsiExecuteCDB(ctx, &wire.ScsiExecuteCdbRequest{
		Flags: wire.ScsiDataIn, Timeout: 10000, DataInLen: 96,
		Cdb: []byte{0x12, 0, 0, 0, 96, 0},
	})
	if err != nil || rep.Status != 0 || len(rep.DataIn) < 36 {
		t.Fatalf("INQUIRY = %+v, %v", rep, err)
	}
	if typ := rep.DataIn[0] & 0x1f; typ != 0x08 {
		t.Fatalf("peripheral device type %#x, want 0x08 (medium changer)", typ)
	}
	// READ ELEMENT STATUS, all element types, 64 KiB allocation.
	rep, err = c.ScsiExecuteCDB(ctx, &wire.ScsiExecuteCdbRequest{
		Flags: wire.ScsiDataIn, Timeout: 10000, DataInLen: 65536,
		Cdb: []byte{0xb8, 0x10, 0, 0, 0xff, 0xff, 0, 0x01, 0, 0, 0, 0},
	})
	if err != nil || rep.Status != 0 || len(rep.DataIn) < 8 {
		t.Fatalf("READ ELEMENT STATUS = status %d, %d bytes, sense %x, %v", rep.Status, len(rep.DataIn), rep.ExtSense, err)
	}
	if err := c.ScsiClose(ctx); err != nil {
		t.Fatalf("ScsiClose: %v", err)
	}
}

// postLog collects posts for a test.
type postLog struct {
	mu    sync.Mutex
	posts []Post
	taken []bool
	more  chan struct{} // signalled on every post
}

func newPostLog() *postLog { return &postLog{more: make(chan struct{}, 1)} }

func (p *postLog) handle(x Post) {
	p.mu.Lock()
	p.posts = append(p.posts, x)
	p.taken = append(p.taken, false)
	p.mu.Unlock()
	select {
	case p.more <- struct{}{}:
	default:
	}
}

// take returns the first post with code c not taken before.
func (p *postLog) take(c wire.Code) (Post, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, x := range p.posts {
		if !p.taken[i] && x.Header.Code == c {
			p.taken[i] = true
			return x, true
		}
	}
	return Post{}, false
}

// waitFor returns the first untaken post with code c, failing after a
// minute.
func (p *postLog) waitFor(t *testing.T, c wire.Code) Post {
	t.Helper()
	timer := time.NewTimer(time.Minute)
	defer timer.Stop()
	for {
		if x, ok := p.take(c); ok {
			return x
		}
		select {
		case <-p.more:
		case <-timer.C:
			t.Fatalf("no %v post", c)
		}
	}
}

// moverCycle: TAPE_OPEN and MOVER_LISTEN(TCP) on tc, DATA_CONNECT to it
// on dc (the same session or another: a three-way set-up), DATA_ABORT and
// MOVER_ABORT with their HALTED posts, then STOP back to IDLE.
func moverCycle(t *testing.T, tc, dc *Conn, tposts, dposts *postLog, device string) {
	t.Helper()
	ctx := testCtx(t)
	if err := tc.TapeOpen(ctx, device, wire.TapeRdwrMode); err != nil {
		t.Fatalf("TapeOpen: %v", err)
	}
	if err := tc.MoverSetRecordSize(ctx, 10240); err != nil {
		t.Fatalf("MoverSetRecordSize: %v", err)
	}
	// v4 sets the window before LISTEN, v3 after it (NDMJOB enforces both).
	window := func() {
		if err := tc.MoverSetWindow(ctx, 0, wire.LengthInfinity); err != nil {
			t.Fatalf("MoverSetWindow: %v", err)
		}
	}
	if tc.Version() == wire.V4 {
		window()
	}
	a, err := tc.MoverListen(ctx, wire.MoverModeRead, wire.AddrTCP)
	if err != nil || a.Type != wire.AddrTCP || len(a.TCP) == 0 {
		t.Fatalf("MoverListen = %+v, %v", a, err)
	}
	if tc.Version() == wire.V3 {
		window()
	}
	if ms, err := tc.MoverGetState(ctx); err != nil || ms.State != wire.MoverStateListen {
		t.Fatalf("MoverGetState = %+v, %v", ms, err)
	}
	if err := dc.DataConnect(ctx, a); err != nil {
		t.Fatalf("DataConnect: %v", err)
	}
	if ds, err := dc.DataGetState(ctx); err != nil || ds.State != wire.DataStateConnected {
		t.Fatalf("DataGetState = %+v, %v", ds, err)
	}
	// NDMJOB takes DATA_ABORT only in ACTIVE; its connected data
	// service goes back to IDLE when the session ends.
	dataAborted := true
	if err := dc.DataAbort(ctx); IsNDMP(err, wire.ErrIllegalState) && dc != tc {
		dataAborted = false
	} else if err != nil {
		t.Fatalf("DataAbort: %v", err)
	}
	if dataAborted {
		p := dposts.waitFor(t, wire.CodeNotifyDataHalted)
		if b := p.Body.(*wire.NotifyDataHalted); b.Reason != wire.DataHaltAborted {
			t.Fatalf("data halted %v, want ABORTED", b.Reason)
		}
	}
	// The mover may already have halted on the closed connection.
	if err := tc.MoverAbort(ctx); err != nil && !IsNDMP(err, wire.ErrIllegalState) {
		t.Fatalf("MoverAbort: %v", err)
	}
	tposts.waitFor(t, wire.CodeNotifyMoverHalted)
	if err := dc.DataStop(ctx); dataAborted && err != nil {
		t.Fatalf("DataStop: %v", err)
	}
	if err := tc.MoverStop(ctx); err != nil {
		t.Fatalf("MoverStop: %v", err)
	}
	ms, err := tc.MoverGetState(ctx)
	if err != nil || ms.State != wire.MoverStateIdle {
		t.Fatalf("MoverGetState = %+v, %v", ms, err)
	}
	if err := tc.TapeClose(ctx); err != nil {
		t.Fatalf("TapeClose: %v", err)
	}
}

func TestFerryIllegalStateIsReplyError(t *testing.T) {
	addr := startFerry(t)
	c := dial(t, addr, Options{User: testUser, Password: testPassword})
	err := c.DataStop(testCtx(t))
	var re *ReplyError
	if !errors.As(err, &re) || re.Err != wire.ErrIllegalState || re.Header || !errors.Is(err, wire.ErrIllegalState) {
		t.Fatalf("DataStop in IDLE: %v", err)
	}
	// An unknown code: ferry answers NOT_SUPPORTED in the header.
	err = c.Call(testCtx(t), wire.ExtProprietaryBase+0x42, nil, nil)
	if !errors.As(err, &re) || re.Err != wire.ErrNotSupported || !re.Header {
		t.Fatalf("unknown code: %v", err)
	}
}
