package node

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net"
	"time"

	"ferry/internal/library"
	"ferry/internal/ndmp/data"
	"ferry/internal/ndmp/data/tarengine"
	"ferry/internal/ndmp/server"
)

// LocalAgent is ferry's NDMP agent started inside a command's own process,
// on loopback with a one-time password, over the state directory's
// library: `ferry backup DIR` talks NDMP to it as to any agent.
type LocalAgent struct {
	Addr, User, Password string
	Lib                  *library.Library
	srv                  *server.Server
	served               chan error
}

// StartLocalAgent starts the in-process agent with exports (may be none);
// its backups never store protect (nor the state directory).
func StartLocalAgent(l Layout, exports []string, protect ...string) (*LocalAgent, error) {
	lib, err := library.Open(l.Library())
	if err != nil {
		return nil, fmt.Errorf("open tape library: %w", err)
	}
	secret := make([]byte, 18)
	rand.Read(secret)
	pw := base64.RawURLEncoding.EncodeToString(secret)
	tar := tarengine.New(tarengine.Config{Exports: exports, StateDir: l.Root, Protect: protect})
	srv, err := server.New(server.Config{
		Library:     lib,
		Exports:     exports,
		Credentials: map[string]string{"ndmp": pw},
		Engines:     map[string]data.Engine{"tar": tar},
	})
	if err != nil {
		lib.Close()
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		lib.Close()
		return nil, err
	}
	a := &LocalAgent{Addr: ln.Addr().String(), User: "ndmp", Password: pw, Lib: lib, srv: srv, served: make(chan error, 1)}
	go func() { a.served <- srv.Serve(ln) }()
	return a, nil
}

// Stop shuts the agent down and closes the library.
func (a *LocalAgent) Stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	a.srv.Shutdown(ctx)
	<-a.served
	a.Lib.Close()
}
