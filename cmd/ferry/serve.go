package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"ferry/internal/library"
	"ferry/internal/ndmp/data"
	"ferry/internal/ndmp/data/tarengine"
	"ferry/internal/ndmp/server"
	"ferry/internal/scsi"
	"ferry/internal/scsi/sg"
)

type serveOptions struct {
	ndmpAddr         string
	iscsiAddr        string
	snapshot         bool
	exports          []string
	ndmpUser         string
	ndmpPasswordFile string
	logLevel         string
	changerDevices   []string
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
the drives on LUNs 1-4) and the state directory's disks (ferry disk create).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runServe(cmd.Context(), g, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.ndmpAddr, "ndmp", "127.0.0.1:10000", "NDMP listen address (\"\" turns the NDMP agent off)")
	f.StringVar(&o.iscsiAddr, "iscsi", "", "iSCSI listen address of the SAN target (off unless given; 3260 is the standard port)")
	f.BoolVar(&o.snapshot, "snapshot", false, "back up from a btrfs or LVM snapshot by default (SNAPSHOT=y)")
	f.StringArrayVar(&o.exports, "export", nil, "directory that may be backed up or restored into (repeatable)")
	f.StringVar(&o.ndmpUser, "ndmp-user", "ndmp", "NDMP user name")
	f.StringVar(&o.ndmpPasswordFile, "ndmp-password-file", "", "file holding the NDMP password, 12 characters or more (default: STATE/ndmp-password, generated)")
	f.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	f.StringArrayVar(&o.changerDevices, "changer-device", nil, "a real media changer's Linux sg device (e.g. /dev/sg3) served to NDMP SCSI under its path, CDBs passed through; untested on hardware (repeatable)")
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
		passwordFile = filepath.Join(state, "ndmp-password")
		if err := ensurePasswordFile(passwordFile); err != nil {
			return err
		}
	}
	password, err := readNDMPPassword(passwordFile)
	if err != nil {
		return err
	}

	lib, err := library.Open(filepath.Join(state, "library"))
	if err != nil {
		return fmt.Errorf("open tape library: %w", err)
	}
	defer lib.Close()

	if o.ndmpAddr == "" && o.iscsiAddr == "" {
		return errors.New("nothing to serve: give --ndmp or --iscsi an address")
	}
	var (
		ndmpSrv *server.Server
		ndmpLn  net.Listener
		iscsi   *iscsiServer
		served  = make(chan error, 1)
	)
	if o.ndmpAddr != "" {
		changers, closeChangers, err := openChangers(o.changerDevices)
		if err != nil {
			return err
		}
		defer closeChangers()
		tar := tarengine.New(tarengine.Config{Exports: exports, StateDir: state, Snapshot: o.snapshot, Logger: logger})
		ndmpSrv, err = server.New(server.Config{
			Library:     lib,
			Exports:     exports,
			Credentials: map[string]string{o.ndmpUser: password},
			Logger:      logger,
			Engines:     map[string]data.Engine{"tar": tar},

			PassThroughChangers: changers,
		})
		if err != nil {
			return err
		}
		if ndmpLn, err = net.Listen("tcp", o.ndmpAddr); err != nil {
			return fmt.Errorf("NDMP listen: %w", err)
		}
		fmt.Fprintf(os.Stderr, "ferry: NDMP agent on %s (state %s; user %q, password in %s; drives %s; changer %s)\n",
			ndmpLn.Addr(), state, o.ndmpUser, passwordFile, strings.Join(lib.DriveNames(), " "), lib.ChangerName())
		go func() { served <- ndmpSrv.Serve(ndmpLn) }()
	}
	if o.iscsiAddr != "" {
		if iscsi, err = startISCSI(state, lib, o.iscsiAddr, 2*time.Second, logger); err != nil {
			if ndmpSrv != nil {
				ndmpSrv.Shutdown(context.Background())
			}
			return err
		}
		fmt.Fprintf(os.Stderr, "ferry: iSCSI target %s on %s\n", iscsi.Name(), iscsi.Addr())
	}

	var serveErr error
	select {
	case serveErr = <-served:
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var errs []error
	if ndmpSrv != nil {
		if err := ndmpSrv.Shutdown(sctx); err != nil {
			errs = append(errs, fmt.Errorf("NDMP shutdown: %w", err))
		}
		if serveErr == nil {
			serveErr = <-served
		}
	}
	if iscsi != nil {
		if err := iscsi.Shutdown(sctx); err != nil {
			errs = append(errs, fmt.Errorf("iSCSI shutdown: %w", err))
		}
	}
	return errors.Join(append(errs, serveErr)...)
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

// ensurePasswordFile creates a random password file unless one exists.
func ensurePasswordFile(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("create password file: %w", err)
	}
	// 18 random bytes give 24 characters (144 bits). Some DMAs keep fewer
	// than 32 (Amanda's ndmjob cuts at 31), and MD5 auth uses at most 32.
	secret := make([]byte, 18)
	rand.Read(secret)
	_, err = fmt.Fprintln(f, base64.RawURLEncoding.EncodeToString(secret))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// readPasswordFile reads the first line of a password file. The file must
// not be readable by others: a password on a shared machine is otherwise
// anyone's.
func readPasswordFile(path string) (string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("password file: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return "", fmt.Errorf("password file %s is readable by group or others; chmod 600 it", path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("password file: %w", err)
	}
	pw, _, _ := strings.Cut(string(b), "\n")
	pw = strings.TrimRight(pw, "\r")
	if pw == "" {
		return "", fmt.Errorf("password file %s is empty", path)
	}
	return pw, nil
}

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
