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
	"ferry/internal/ndmp/server"
)

type serveOptions struct {
	ndmpAddr         string
	exports          []string
	ndmpUser         string
	ndmpPasswordFile string
	logLevel         string
}

func newServeCommand(g *globalOptions) *cobra.Command {
	var o serveOptions
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run ferry's agents: the NDMP server on the state directory's tape library",
		Long: `Run ferry's agents on the state directory's tape library.

The NDMP agent serves the library's drives and changer to any NDMP v4 or v3
backup application, and backs up and restores directories under the exported
roots. Credentials come from --ndmp-password-file; without one, ferry keeps a
generated password in the state directory (file ndmp-password, mode 0600).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runServe(cmd.Context(), g, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.ndmpAddr, "ndmp", "127.0.0.1:10000", "NDMP listen address")
	f.StringArrayVar(&o.exports, "export", nil, "directory that may be backed up or restored into (repeatable)")
	f.StringVar(&o.ndmpUser, "ndmp-user", "ndmp", "NDMP user name")
	f.StringVar(&o.ndmpPasswordFile, "ndmp-password-file", "", "file holding the NDMP password (default: STATE/ndmp-password, generated)")
	f.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn, error")
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
	password, err := readPasswordFile(passwordFile)
	if err != nil {
		return err
	}

	lib, err := library.Open(filepath.Join(state, "library"))
	if err != nil {
		return fmt.Errorf("open tape library: %w", err)
	}
	defer lib.Close()

	srv, err := server.New(server.Config{
		Library:     lib,
		Exports:     exports,
		Credentials: map[string]string{o.ndmpUser: password},
		Logger:      logger,
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.ndmpAddr)
	if err != nil {
		return fmt.Errorf("NDMP listen: %w", err)
	}
	fmt.Fprintf(os.Stderr, "ferry: NDMP agent on %s (state %s; user %q, password in %s; drives %s; changer %s)\n",
		ln.Addr(), state, o.ndmpUser, passwordFile, strings.Join(lib.DriveNames(), " "), lib.ChangerName())

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return <-served
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
