package tarengine

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"ferry/internal/library"
	"ferry/internal/ndmp/data"
	"ferry/internal/ndmp/server"
	"ferry/internal/testsupport/ndmjobtest"
	"ferry/internal/testsupport/servetest"
)

const (
	testUser     = "ndmp"
	testPassword = "secret"
)

// agent is a ferry NDMP agent on 127.0.0.1:0 with the tar engine.
type agent struct {
	addr   string
	export string
	lib    *library.Library
	engine *Engine
}

func newAgent(t testing.TB) *agent {
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
	eng := New(Config{Exports: []string{export}, StateDir: filepath.Join(dir, "state"), Logger: testLogger()})
	srv, err := server.New(server.Config{
		Library: lib, Exports: []string{export},
		Credentials: map[string]string{testUser: testPassword},
		Logger:      testLogger(),
		Engines:     map[string]data.Engine{"tar": eng},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lib.Close() })
	addr := servetest.Start(t, srv)
	return &agent{addr: addr, export: export, lib: lib, engine: eng}
}

func testLogger() *slog.Logger { return servetest.Logger() }

// spec is ndmjob's agent syntax.
func (a *agent) spec(versionAuth string) string {
	return fmt.Sprintf("%s/%s,%s,%s", a.addr, versionAuth, testUser, testPassword)
}

// dir makes a directory under the export.
func (a *agent) dir(t testing.TB, name string) string {
	t.Helper()
	p := filepath.Join(a.export, name)
	if err := os.MkdirAll(p, 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// ndmjob runs the reference DMA and fails the test unless it ends OKAY.
func ndmjob(t testing.TB, args ...string) *ndmjobtest.Result {
	t.Helper()
	r := ndmjobRun(t, args...)
	if r.ExitCode != 0 {
		t.Fatalf("ndmjob %q: exit %d\n%s", args, r.ExitCode, r.Output)
	}
	return r
}

func ndmjobRun(t testing.TB, args ...string) *ndmjobtest.Result {
	t.Helper()
	tool := ndmjobtest.Find(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	return tool.Run(ctx, t, args...)
}

// tapeFile reads tape file n of the cartridge in tape0 as `ferry tape cat`.
func (a *agent) tapeFile(t testing.TB, n uint64) []byte {
	t.Helper()
	var b bytes.Buffer
	if _, err := a.lib.CatFile(context.Background(), "tape0", n, &b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

var moverReadRE = regexp.MustCompile(`MOVER: read (\d+)KB`)

// moverReadKB is the last "MOVER: read NKB" ndmjob printed (-v).
func moverReadKB(out string) int64 {
	m := moverReadRE.FindAllStringSubmatch(out, -1)
	if len(m) == 0 {
		return -1
	}
	n, _ := strconv.ParseInt(m[len(m)-1][1], 10, 64)
	return n
}
