package server

import (
	"context"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"ferry/internal/changer"
	"ferry/internal/library"
	"ferry/internal/ndmp/wire"
	"ferry/internal/testsupport/leakcheck"
	"ferry/internal/testsupport/ndmjobtest"
	"ferry/internal/testsupport/servetest"
)

func TestMain(m *testing.M) { leakcheck.Main(m, ndmjobtest.Cleanup) }

// Test credentials.
const (
	testUser     = "ndmp"
	testPassword = "secret"
)

// testServer is a Server on 127.0.0.1:0 over a fresh library in a temp dir.
type testServer struct {
	*Server
	lib    *library.Library
	addr   string
	export string
}

func newTestServer(t testing.TB, opts ...func(*Config)) *testServer {
	t.Helper()
	dir := t.TempDir()
	lib, err := library.Open(filepath.Join(dir, "library"))
	if err != nil {
		t.Fatal(err)
	}
	export := filepath.Join(dir, "export")
	if err := os.Mkdir(export, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := Config{
		Library:     lib,
		Exports:     []string{export},
		Credentials: map[string]string{testUser: testPassword},
		Logger:      testLogger(),
	}
	for _, o := range opts {
		o(&cfg)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lib.Close() })
	ts := &testServer{Server: srv, lib: lib, export: export}
	ts.addr = servetest.Start(t, srv)
	return ts
}

// testLogger logs at debug level to stderr when NDMP_DEBUG is set.
func testLogger() *slog.Logger { return servetest.Logger() }

// client connects a raw test client.
func (ts *testServer) client(t testing.TB) *testClient { return dialClient(t, ts.addr) }

// loadDrive makes sure the named drive holds a cartridge (the default
// library starts with every drive loaded) and returns its barcode.
func (ts *testServer) loadDrive(t testing.TB, drive string) string {
	t.Helper()
	d := ts.drive(t, drive)
	if d.Full {
		return d.Barcode
	}
	for _, e := range ts.elements(t) {
		if e.Type == changer.Storage && e.Full {
			if err := ts.lib.Move(e.Address, d.Address); err != nil {
				t.Fatal(err)
			}
			return e.Barcode
		}
	}
	t.Fatal("no cartridge in any slot")
	return ""
}

// emptyDrive moves the named drive's cartridge to the first empty
// import/export or storage element and returns that element's address.
func (ts *testServer) emptyDrive(t testing.TB, drive string) uint16 {
	t.Helper()
	d := ts.drive(t, drive)
	if !d.Full {
		return 0
	}
	for _, e := range ts.elements(t) {
		if (e.Type == changer.ImportExport || e.Type == changer.Storage) && !e.Full {
			if err := ts.lib.Move(d.Address, e.Address); err != nil {
				t.Fatal(err)
			}
			return e.Address
		}
	}
	t.Fatal("no empty element")
	return 0
}

func (ts *testServer) elements(t testing.TB) []changer.Element {
	t.Helper()
	els, err := ts.lib.Elements()
	if err != nil {
		t.Fatal(err)
	}
	return els
}

func (ts *testServer) drive(t testing.TB, name string) changer.Element {
	t.Helper()
	for _, e := range ts.elements(t) {
		if e.Type == changer.DataTransfer && e.Drive == name {
			return e
		}
	}
	t.Fatalf("no drive %s", name)
	return changer.Element{}
}

// element returns the element at addr.
func (ts *testServer) element(t testing.TB, addr uint16) changer.Element {
	t.Helper()
	for _, e := range ts.elements(t) {
		if e.Address == addr {
			return e
		}
	}
	t.Fatalf("no element %#x", addr)
	return changer.Element{}
}

// flakyListener fails its first accepts the way a server out of file
// descriptors does.
type flakyListener struct {
	net.Listener
	fails int
}

func (l *flakyListener) Accept() (net.Conn, error) {
	if l.fails > 0 {
		l.fails--
		return nil, &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", syscall.EMFILE)}
	}
	return l.Listener.Accept()
}

func TestServeSurvivesAcceptErrors(t *testing.T) {
	ts := newTestServer(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- ts.Serve(&flakyListener{Listener: ln, fails: 3}) }()
	c := dialClient(t, ln.Addr().String())
	c.open(wire.V4)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := ts.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-served; err != nil {
		t.Errorf("Serve: %v", err)
	}
}
