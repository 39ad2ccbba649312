// Package pgtest starts a throwaway PostgreSQL server for tests: initdb
// into a fresh temporary directory, a server that listens only on a unix
// socket in that directory, one database per test, and everything removed
// on Stop.
//
// When FERRY_TEST_PG_DSN is set, that server is used instead (each test
// still gets its own database). When PostgreSQL is not installed, Require
// skips the test, unless CI is set, in which case it fails: CI must run
// the PostgreSQL tests.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// ErrUnavailable means no PostgreSQL installation was found.
var ErrUnavailable = errors.New("pgtest: PostgreSQL is not installed")

// Server is a running throwaway PostgreSQL server (or the external one of
// FERRY_TEST_PG_DSN).
type Server struct {
	DSN  string // of the maintenance database "postgres"
	dir  string
	cmd  *exec.Cmd
	done chan error
	mu   sync.Mutex
	n    int
}

// BinDir returns the directory of initdb and postgres: the newest
// /usr/lib/postgresql/*/bin, or "" when there is none.
func BinDir() string {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d
		}
	}
	return ""
}

func version(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

// Start initialises and starts a server. As root, the server runs as the
// "postgres" user, since initdb refuses root.
func Start(ctx context.Context) (*Server, error) {
	if dsn := os.Getenv("FERRY_TEST_PG_DSN"); dsn != "" {
		return &Server{DSN: dsn}, nil
	}
	bin := BinDir()
	if bin == "" {
		return nil, ErrUnavailable
	}
	dir, err := os.MkdirTemp("", "ferry-pgtest-")
	if err != nil {
		return nil, err
	}
	s := &Server{dir: dir}
	if err := s.start(ctx, bin); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

func (s *Server) start(ctx context.Context, bin string) error {
	cred, err := runAs()
	if err != nil {
		return err
	}
	data := filepath.Join(s.dir, "data")
	if err := os.Chmod(s.dir, 0o755); err != nil {
		return err
	}
	if cred != nil {
		if err := os.Chown(s.dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return err
		}
	}
	initdb := exec.CommandContext(ctx, filepath.Join(bin, "initdb"), "-D", data, "-U", "ferry", "-A", "trust",
		"-E", "UTF8", "--locale=C", "--no-sync")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		return fmt.Errorf("pgtest: initdb: %v\n%s", err, out)
	}
	s.cmd = exec.Command(filepath.Join(bin, "postgres"), "-D", data, "-k", s.dir, "-p", "5432",
		"-c", "listen_addresses=", "-c", "fsync=off", "-c", "synchronous_commit=off",
		"-c", "full_page_writes=off", "-c", "max_connections=50")
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGQUIT}
	log, err := os.Create(filepath.Join(s.dir, "postgres.log"))
	if err != nil {
		return err
	}
	defer log.Close()
	s.cmd.Stdout, s.cmd.Stderr = log, log
	s.done = make(chan error, 1)
	started := make(chan error, 1)
	go s.run(started)
	if err := <-started; err != nil {
		return fmt.Errorf("pgtest: start postgres: %w", err)
	}
	s.DSN = fmt.Sprintf("host=%s port=5432 user=ferry dbname=postgres sslmode=disable", s.dir)
	return s.waitReady(ctx)
}

// run starts postgres on a thread locked for the server's lifetime:
// Pdeathsig follows the starting thread, so the server is stopped if the
// test binary dies, and never because an idle Go thread went away.
func (s *Server) run(started chan<- error) {
	runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
	if err := s.cmd.Start(); err != nil {
		started <- err
		return
	}
	started <- nil
	s.done <- s.cmd.Wait()
}

// runAs returns the credentials of the postgres user when running as
// root, else nil (run as the current user).
func runAs() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("pgtest: running as root and no postgres user: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// waitReady polls until the server accepts a connection.
func (s *Server) waitReady(ctx context.Context) error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		c, err := pgx.Connect(ctx, s.DSN)
		if err == nil {
			c.Close(ctx)
			return nil
		}
		select {
		case werr := <-s.done:
			s.done <- werr
			out, _ := os.ReadFile(filepath.Join(s.dir, "postgres.log"))
			return fmt.Errorf("pgtest: postgres exited: %v\n%s", werr, out)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("pgtest: postgres not ready after a minute: %w", err)
		}
	}
}

// NewDatabase creates a fresh database and returns its DSN.
func (s *Server) NewDatabase(ctx context.Context) (string, error) {
	s.mu.Lock()
	s.n++
	name := fmt.Sprintf("ferry_test_%d_%d", os.Getpid(), s.n)
	s.mu.Unlock()
	c, err := pgx.Connect(ctx, s.DSN)
	if err != nil {
		return "", err
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", err
	}
	cfg, err := pgx.ParseConfig(s.DSN)
	if err != nil {
		return "", err
	}
	if s.dir != "" {
		return fmt.Sprintf("host=%s port=%d user=%s dbname=%s sslmode=disable", cfg.Host, cfg.Port, cfg.User, name), nil
	}
	// An external server: keep its DSN, change the database.
	return s.DSN + " dbname=" + name, nil
}

// Stop shuts the server down (fast shutdown, then kill after 30 s) and
// removes its directory. An external server is left alone.
func (s *Server) Stop() error {
	if s.cmd != nil && s.cmd.Process != nil && s.done != nil {
		s.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-s.done:
		case <-time.After(30 * time.Second):
			s.cmd.Process.Kill()
			<-s.done
		}
	}
	if s.dir != "" {
		return os.RemoveAll(s.dir)
	}
	return nil
}

// Shared is one server for a whole test binary, started on first use.
// Call Stop from TestMain after m.Run.
type Shared struct {
	once sync.Once
	srv  *Server
	err  error
}

// Require returns the shared server, skipping the test when PostgreSQL
// is not installed and CI is unset, failing it otherwise.
func (sh *Shared) Require(t testing.TB) *Server {
	t.Helper()
	sh.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		sh.srv, sh.err = Start(ctx)
	})
	if errors.Is(sh.err, ErrUnavailable) && os.Getenv("CI") == "" {
		t.Skip("PostgreSQL is not installed (set CI to make this a failure)")
	}
	if sh.err != nil {
		t.Fatal(sh.err)
	}
	return sh.srv
}

// Database returns the DSN of a fresh database on the shared server.
func (sh *Shared) Database(t testing.TB) string {
	t.Helper()
	srv := sh.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dsn, err := srv.NewDatabase(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return dsn
}

// Stop stops the shared server if it was started.
func (sh *Shared) Stop() {
	if sh.srv != nil {
		sh.srv.Stop()
	}
}
