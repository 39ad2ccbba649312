package client

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"ferry/internal/ndmp/wire"
	"ferry/internal/testsupport/ndmjobtest"
)

// ndmjob's test daemon accepts user "ndmp" with password "ndmp".
const ndmjobUser, ndmjobPassword = "ndmp", "ndmp"

// startNdmjob starts `ndmjob -o test-daemon` on a free port and returns
// its address; it exits when the test closes its stdin.
func startNdmjob(t *testing.T) string {
	t.Helper()
	return ndmjobtest.Find(t).StartTestDaemon(t, ndmjobtest.Daemon{})
}

func ndmjobOptions(v wire.Version, m AuthMode) Options {
	return Options{User: ndmjobUser, Password: ndmjobPassword, Version: v, Auth: m}
}

func TestNdmjobNegotiateAndAuth(t *testing.T) {
	addr := startNdmjob(t)
	for _, v := range []wire.Version{wire.V4, wire.V3} {
		for _, m := range []AuthMode{AuthMD5, AuthText, AuthAuto} {
			c := dial(t, addr, ndmjobOptions(v, m))
			if c.Version() != v {
				t.Fatalf("version %d, want %d", c.Version(), v)
			}
			info, err := c.ServerInfo(testCtx(t))
			if err != nil || info.ProductName != "NDMJOB" {
				t.Fatalf("ServerInfo = %+v, %v", info, err)
			}
			c.Close()
		}
	}
	_, err := Dial(testCtx(t), addr, Options{User: ndmjobUser, Password: "nope"})
	if !errors.Is(err, ErrAuth) {
		t.Fatalf("wrong password: %v", err)
	}
}

// ndmjobTape makes an empty simulated tape file.
func ndmjobTape(t *testing.T) string {
	tape := filepath.Join(t.TempDir(), "tape.sim")
	if err := os.WriteFile(tape, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	return tape
}

func TestNdmjobTapeRoundTrip(t *testing.T) {
	addr := startNdmjob(t)
	for _, v := range []wire.Version{wire.V4, wire.V3} {
		c := dial(t, addr, ndmjobOptions(v, AuthAuto))
		tapeRoundTrip(t, c, ndmjobTape(t))
		c.Close()
	}
}

func TestNdmjobRobotInquiry(t *testing.T) {
	addr := startNdmjob(t)
	for _, v := range []wire.Version{wire.V4, wire.V3} {
		c := dial(t, addr, ndmjobOptions(v, AuthAuto))
		robotInquiry(t, c, t.TempDir())
		c.Close()
	}
}

func TestNdmjobMoverDataAbortCycle(t *testing.T) {
	addr := startNdmjob(t)
	for _, v := range []wire.Version{wire.V4, wire.V3} {
		// ndmjob connects a mover and a data service over TCP only
		// across sessions (three-way).
		tposts, dposts := newPostLog(), newPostLog()
		o := ndmjobOptions(v, AuthAuto)
		o.Posts = tposts.handle
		tc := dial(t, addr, o)
		o.Posts = dposts.handle
		dc := dial(t, addr, o)
		moverCycle(t, tc, dc, tposts, dposts, ndmjobTape(t))
		tc.Close()
		dc.Close()
	}
}

func TestNdmjobUnknownCodeTimesOut(t *testing.T) {
	addr := startNdmjob(t)
	c := dial(t, addr, ndmjobOptions(wire.V4, AuthAuto))
	ctx := testCtx(t)
	start := time.Now()
	err := c.CallTimeout(ctx, 500*time.Millisecond, wire.ExtProprietaryBase+0x42, nil, nil)
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("unknown code: %v, want ErrTimeout", err)
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Fatalf("timeout took %v", d)
	}
	// The connection is still good.
	if _, err := c.HostInfo(ctx); err != nil {
		t.Fatalf("HostInfo after timeout: %v", err)
	}
}
