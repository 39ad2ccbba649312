// Package ndmptest starts ferry's NDMP agent for tests: a library, the tar
// engine and the NDMP server on a loopback port, shut down (and checked to
// shut down cleanly) when the test ends. Every test that needs a running
// agent takes it from here.
package ndmptest

import (
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"testing"

	"ferry/internal/library"
	"ferry/internal/ndmp/data"
	"ferry/internal/ndmp/data/tarengine"
	"ferry/internal/ndmp/server"
	"ferry/internal/testsupport/servetest"
)

// Credentials of the agents this package starts, unless Options say others.
const (
	User     = "ndmp"
	Password = "ndmptest-password"
)

// Options shape an agent; the zero value is a fresh default library, an
// export directory, the tar engine, on 127.0.0.1:0.
type Options struct {
	// Library serves this library (the caller closes it); nil opens a
	// fresh one in a temporary directory (with LibraryOptions if set).
	Library        *library.Library
	LibraryOptions *library.Options
	// Exports are the agent's exports; nil makes one directory, Export.
	Exports []string
	// StateDir is the tar engine's (dump dates, missed files); "" none.
	StateDir string
	// NoEngine leaves the data service without the tar engine.
	NoEngine bool
	// Addr is the listen address; "" is 127.0.0.1:0.
	Addr           string
	User, Password string
	Logger         *slog.Logger
	// Adjust changes the server's config before it starts.
	Adjust func(*server.Config)
}

// Agent is a running agent.
type Agent struct {
	Addr           string
	User, Password string
	Export         string // the first export
	Lib            *library.Library
	Engine         *tarengine.Engine // nil with NoEngine
	Server         *server.Server
}

// Start starts an agent for the rest of the test.
func Start(t testing.TB, o Options) *Agent {
	t.Helper()
	a := &Agent{User: o.User, Password: o.Password, Lib: o.Library}
	if a.User == "" {
		a.User = User
	}
	if a.Password == "" {
		a.Password = Password
	}
	dir := t.TempDir()
	if a.Lib == nil {
		lo := library.DefaultOptions()
		if o.LibraryOptions != nil {
			lo = *o.LibraryOptions
		}
		lib, err := library.OpenWith(filepath.Join(dir, "library"), lo)
		if err != nil {
			t.Fatal(err)
		}
		a.Lib = lib
		t.Cleanup(func() { lib.Close() })
	}
	exports := o.Exports
	if exports == nil {
		export := filepath.Join(dir, "export")
		if err := os.Mkdir(export, 0o755); err != nil {
			t.Fatal(err)
		}
		exports = []string{export}
	}
	if len(exports) > 0 {
		a.Export = exports[0]
	}
	cfg := server.Config{
		Library:     a.Lib,
		Exports:     exports,
		Credentials: map[string]string{a.User: a.Password},
		Logger:      o.Logger,
	}
	if !o.NoEngine {
		a.Engine = tarengine.New(tarengine.Config{Exports: exports, StateDir: o.StateDir, Logger: o.Logger})
		cfg.Engines = map[string]data.Engine{"tar": a.Engine}
	}
	if o.Adjust != nil {
		o.Adjust(&cfg)
	}
	srv, err := server.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	addr := o.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	// Shut down before the library closes: its cleanup was registered first.
	a.Addr, a.Server = servetest.Serve(t, srv, ln), srv
	return a
}
