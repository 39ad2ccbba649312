package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"ferry/internal/library"
	"ferry/internal/ndmp/data"
	"ferry/internal/ndmp/data/tarengine"
	"ferry/internal/ndmp/server"
	"ferry/internal/scsi"
	"ferry/internal/stats"
)

// Config is what a node serves and how.
type Config struct {
	Layout Layout
	// NDMPAddr and ISCSIAddr are the listen addresses; "" leaves that
	// server off (at least one is needed).
	NDMPAddr, ISCSIAddr string
	// NDMPUser and NDMPPassword are the NDMP agent's credentials.
	NDMPUser, NDMPPassword string
	// Exports are the directories NDMP backups may read and restores write.
	Exports []string
	// Snapshot makes SNAPSHOT=y the default of the tar engine.
	Snapshot bool
	// Changers are real changers served to NDMP SCSI by device name.
	Changers map[string]scsi.Device
	// RequireACL makes the iSCSI target refuse initiators not on its
	// ACL even when every portal is loopback.
	RequireACL bool
	// HTTPAddr is the management API's listen address ("" leaves it
	// off); HTTP builds its handler once the other servers run, and
	// HTTPS says how it is served (plain HTTP on loopback only, unless
	// allowed).
	HTTPAddr string
	HTTP     func(*Node) http.Handler
	HTTPS    HTTPSecurity
	// DiskWatch is how often the disks directory is looked at (2 s if 0).
	DiskWatch time.Duration
	// Listen opens the servers' listeners (net.Listen if nil; tests give
	// listeners that fail).
	Listen func(network, addr string) (net.Listener, error)
	Logger *slog.Logger
}

// Node is a running ferry node: its library, and the servers of Config.
type Node struct {
	cfg    Config
	lib    *library.Library
	ndmp   *server.Server
	ndmpLn net.Listener
	iscsi  *ISCSIServer
	http   *httpServer
	stats  *stats.Registry // the NDMP and iSCSI sessions' figures
	// failed receives the error of a server that stopped for good.
	failed chan error
}

// Start opens the library and starts the servers. A server that stops
// for good later is reported by Wait; temporary accept errors (out of
// descriptors, an aborted connection) are retried by the servers.
func Start(cfg Config) (*Node, error) {
	if cfg.NDMPAddr == "" && cfg.ISCSIAddr == "" && cfg.HTTPAddr == "" {
		return nil, errors.New("node: nothing to serve: give an NDMP, iSCSI or HTTP address")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Listen == nil {
		cfg.Listen = net.Listen
	}
	if cfg.DiskWatch == 0 {
		cfg.DiskWatch = 2 * time.Second
	}
	lib, err := library.Open(cfg.Layout.Library())
	if err != nil {
		return nil, fmt.Errorf("open tape library: %w", err)
	}
	n := &Node{cfg: cfg, lib: lib, stats: stats.NewRegistry(), failed: make(chan error, 3)}
	if err := n.start(); err != nil {
		n.Shutdown(context.Background())
		return nil, err
	}
	return n, nil
}

func (n *Node) start() error {
	cfg := n.cfg
	if cfg.NDMPAddr != "" {
		tar := tarengine.New(tarengine.Config{Exports: cfg.Exports, StateDir: cfg.Layout.Root, Snapshot: cfg.Snapshot, Logger: cfg.Logger})
		srv, err := server.New(server.Config{
			Library:             n.lib,
			Exports:             cfg.Exports,
			Credentials:         map[string]string{cfg.NDMPUser: cfg.NDMPPassword},
			Logger:              cfg.Logger,
			Engines:             map[string]data.Engine{"tar": tar},
			PassThroughChangers: cfg.Changers,
			Stats:               n.stats,
		})
		if err != nil {
			return err
		}
		ln, err := cfg.Listen("tcp", cfg.NDMPAddr)
		if err != nil {
			return fmt.Errorf("NDMP listen: %w", err)
		}
		n.ndmp, n.ndmpLn = srv, ln
		go func() {
			if err := srv.Serve(ln); err != nil { // nil after Shutdown
				n.failed <- fmt.Errorf("NDMP agent: %w", err)
			}
		}()
	}
	if cfg.ISCSIAddr != "" {
		ln, err := cfg.Listen("tcp", cfg.ISCSIAddr)
		if err != nil {
			return fmt.Errorf("iSCSI listen: %w", err)
		}
		if n.iscsi, err = startISCSI(cfg.Layout, n.lib, ln, cfg.DiskWatch, cfg.RequireACL, cfg.Logger, n.stats, n.failed); err != nil {
			ln.Close()
			return err
		}
	}
	if cfg.HTTPAddr != "" {
		return n.startHTTP()
	}
	return nil
}

// Library is the node's tape library.
func (n *Node) Library() *library.Library { return n.lib }

// NDMPAddr is the NDMP agent's address (nil when it is off).
func (n *Node) NDMPAddr() net.Addr {
	if n.ndmpLn == nil {
		return nil
	}
	return n.ndmpLn.Addr()
}

// Stats returns the live NDMP and iSCSI sessions' figures.
func (n *Node) Stats() *stats.Registry { return n.stats }

// ISCSI is the node's iSCSI target (nil when it is off).
func (n *Node) ISCSI() *ISCSIServer { return n.iscsi }

// Wait waits until ctx ends (nil) or a server stops for good (its error).
func (n *Node) Wait(ctx context.Context) error {
	select {
	case err := <-n.failed:
		return err
	case <-ctx.Done():
		return nil
	}
}

// Shutdown stops the servers (running requests end first, within ctx) and
// closes the library.
func (n *Node) Shutdown(ctx context.Context) error {
	var errs []error
	if n.ndmp != nil {
		if err := n.ndmp.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("NDMP shutdown: %w", err))
		}
	}
	if n.iscsi != nil {
		if err := n.iscsi.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("iSCSI shutdown: %w", err))
		}
	}
	if n.http != nil {
		if err := n.http.shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("HTTP shutdown: %w", err))
		}
	}
	return errors.Join(append(errs, n.lib.Close())...)
}
