package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"ferry/internal/node"
	"ferry/internal/scsi"
	"ferry/internal/scsi/sg"
)

type serveOptions struct {
	ndmpAddr         string
	iscsiAddr        string
	requireACL       bool
	snapshot         bool
	exports          []string
	ndmpUser         string
	ndmpPasswordFile string
	logLevel         string
	changerDevices   []string
	http             httpOptions
}

func newServeCommand(g *globalOptions) *cobra.Command {
	var o serveOptions
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run ferry's agents: the NDMP server and the iSCSI target on the state directory's library and disks",
		Long: `Run ferry's agents on the state directory's tape library.

The NDMP agent serves the library's drives and changer to any NDMP v4 or v3
backup application, and backs up and restores directories under the exported
roots. Credentials come from --ndmp-password-file (at least 12 characters);
without one, ferry keeps a generated password in the state directory (file
ndmp-password, mode 0600). Failed logins are slowed down and a connection
ends after 3; a connection must authenticate within 15 s, and at most 256
(32 per client address) may be waiting to.

With --iscsi, the iSCSI target serves the same library (the changer on LUN 0,
the drives on LUNs 1-4) and the state directory's disks (ferry disk create).
Initiators on the target's ACL (ferry target allow) see the LUs their entry
names; when every portal is loopback any initiator may log in, unless
--require-acl is given.

With --http, the management API (JSON under /api/v1, /metrics) answers
requests with a bearer token (ferry token create); plain HTTP only on a
loopback address unless --insecure-http, HTTPS with --tls-cert/--tls-key.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runServe(cmd.Context(), g, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.ndmpAddr, "ndmp", "127.0.0.1:10000", "NDMP listen address (\"\" turns the NDMP agent off)")
	f.StringVar(&o.iscsiAddr, "iscsi", "", "iSCSI listen address of the SAN target (off unless given; 3260 is the standard port)")
	f.BoolVar(&o.requireACL, "require-acl", false, "let only initiators on the target's ACL log in, on loopback portals too")
	f.BoolVar(&o.snapshot, "snapshot", false, "back up from a btrfs or LVM snapshot by default (SNAPSHOT=y)")
	f.StringArrayVar(&o.exports, "export", nil, "directory that may be backed up or restored into (repeatable)")
	f.StringVar(&o.ndmpUser, "ndmp-user", "ndmp", "NDMP user name")
	f.StringVar(&o.ndmpPasswordFile, "ndmp-password-file", "", "file holding the NDMP password, 12 characters or more (default: STATE/ndmp-password, generated)")
	f.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	f.StringArrayVar(&o.changerDevices, "changer-device", nil, "a real media changer's Linux sg device (e.g. /dev/sg3) served to NDMP SCSI under its path, CDBs passed through; untested on hardware (repeatable)")
	httpFlags(f, &o.http)
	return cmd
}

func runServe(ctx context.Context, g *globalOptions, o serveOptions) error {
	state, err := stateDir(g)
	if err != nil {
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	exports, err := resolveExports(o.exports)
	if err != nil {
		return err
	}
	passwordFile := o.ndmpPasswordFile
	if passwordFile == "" {
		passwordFile = node.Layout{Root: state}.NDMPPassword()
		if err := node.EnsureSecret(passwordFile); err != nil {
			return err
		}
	}
	password, err := readNDMPPassword(passwordFile)
	if err != nil {
		return err
	}

	changers, closeChangers, err := openChangers(o.changerDevices)
	if err != nil {
		return err
	}
	defer closeChangers()
	sched, stopSched, err := startScheduler(ctx, g, state, exports, logger)
	if err != nil {
		return err
	}
	defer stopSched()
	web, closeWeb, err := serveHTTP(ctx, g, state, o.http, logger, sched)
	if err != nil {
		return err
	}
	defer closeWeb()
	n, err := node.Start(node.Config{
		Layout: node.Layout{Root: state}, NDMPAddr: o.ndmpAddr, ISCSIAddr: o.iscsiAddr,
		RequireACL: o.requireACL, NDMPUser: o.ndmpUser, NDMPPassword: password, Exports: exports, Snapshot: o.snapshot,
		Changers: changers, Logger: logger, HTTPAddr: web.HTTPAddr, HTTP: web.HTTP, HTTPS: web.HTTPS,
	})
	if err != nil {
		return err
	}
	if a := n.NDMPAddr(); a != nil {
		lib := n.Library()
		fmt.Fprintf(os.Stderr, "ferry: NDMP agent on %s (state %s; user %q, password in %s; drives %s; changer %s)\n",
			a, state, o.ndmpUser, passwordFile, strings.Join(lib.DriveNames(), " "), lib.ChangerName())
	}
	if t := n.ISCSI(); t != nil {
		fmt.Fprintf(os.Stderr, "ferry: iSCSI target %s on %s\n", t.Name(), t.Addr())
	}
	printHTTPBanner(n, o.http)
	// A server that stops for good ends `ferry serve` with its error, so
	// a supervisor restarts it rather than leave half a node running.
	serveErr := n.Wait(ctx)
	logger.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return errors.Join(serveErr, n.Shutdown(sctx))
}

// resolveExports makes each export absolute and checks it is a directory.
func resolveExports(paths []string) ([]string, error) {
	out := make([]string, 0, len(paths))
	for _, p := range paths {
		abs, err := filepath.Abs(p)
		if err != nil {
			return nil, err
		}
		abs, err = filepath.EvalSymlinks(abs)
		if err != nil {
			return nil, fmt.Errorf("--export %s: %w", p, err)
		}
		fi, err := os.Stat(abs)
		if err != nil {
			return nil, fmt.Errorf("--export %s: %w", p, err)
		}
		if !fi.IsDir() {
			return nil, fmt.Errorf("--export %s: not a directory", p)
		}
		out = append(out, abs)
	}
	return out, nil
}

// readPasswordFile reads the first line of a 0600 password file.
func readPasswordFile(path string) (string, error) { return node.ReadSecret(path) }

// minSecretLen is the shortest password or CHAP secret ferry's servers
// accept: RFC 7143's minimum for CHAP secrets, and as much for NDMP, whose
// TEXT and MD5 logins are as easy to guess offline or online.
const minSecretLen = 12

// readNDMPPassword reads the password of ferry serve's NDMP agent and
// refuses one shorter than minSecretLen.
func readNDMPPassword(path string) (string, error) {
	pw, err := readPasswordFile(path)
	if err != nil {
		return "", err
	}
	if len(pw) < minSecretLen {
		return "", fmt.Errorf("NDMP password in %s is %d characters; ferry serve needs at least %d (put a longer one there, or give no --ndmp-password-file to use a generated one)",
			path, len(pw), minSecretLen)
	}
	return pw, nil
}

// openChangers opens the real changers given with --changer-device.
func openChangers(paths []string) (map[string]scsi.Device, func(), error) {
	devs := map[string]scsi.Device{}
	var opened []*sg.Device
	closeAll := func() {
		for _, d := range opened {
			d.Close()
		}
	}
	for _, p := range paths {
		d, err := sg.Open(p)
		if err != nil {
			closeAll()
			return nil, nil, fmt.Errorf("--changer-device: %w", err)
		}
		opened = append(opened, d)
		devs[p] = d
	}
	return devs, closeAll, nil
}
