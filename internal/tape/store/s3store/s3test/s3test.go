// Package s3test runs a real S3 server for tests: versitygw with its posix
// backend in a temporary directory, on a loopback port. Without the
// versitygw binary a test skips, unless CI=true, where it fails: CI builds
// the binary (scripts/test.sh, from the tools module) and must run these
// tests.
package s3test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"ferry/internal/tape/store/s3store"
)

// Server is a running versitygw with one bucket.
type Server struct {
	Endpoint    string // http://127.0.0.1:PORT
	Bucket      string
	Credentials s3store.Credentials
	Root        string // the posix backend's directory: Root/Bucket/<keys>

	prefixes atomic.Int64
}

// Binary finds versitygw: $FERRY_VERSITYGW, then PATH, then GOBIN or
// GOPATH/bin (where the tools module installs it). "" if none.
func Binary() string {
	if p := os.Getenv("FERRY_VERSITYGW"); p != "" {
		return p
	}
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p
	}
	var dirs []string
	if d := os.Getenv("GOBIN"); d != "" {
		dirs = append(dirs, d)
	}
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		for _, d := range filepath.SplitList(string(trimNL(out))) {
			dirs = append(dirs, filepath.Join(d, "bin"))
		}
	}
	for _, d := range dirs {
		p := filepath.Join(d, "versitygw")
		if st, err := os.Stat(p); err == nil && st.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
}

func trimNL(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

// Start runs a server until the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	bin := Binary()
	if bin == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("versitygw not found: scripts/test.sh installs it from tools/ (cd tools && go install github.com/versity/versitygw/cmd/versitygw)")
		}
		t.Skip("versitygw not installed (cd tools && go install github.com/versity/versitygw/cmd/versitygw); CI=true makes this a failure")
	}
	s := &Server{Bucket: "ferry-test", Root: t.TempDir(), Credentials: s3store.Credentials{
		AccessKeyID: "ferry" + random(6), SecretAccessKey: random(20),
	}}
	var lastErr error
	for range 5 { // a port picked free may be taken before the server binds it
		if lastErr = s.run(t, bin); lastErr == nil {
			break
		}
	}
	if lastErr != nil {
		t.Fatalf("versitygw: %v", lastErr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := s.Client(t).CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(s.Bucket)}); err != nil {
		t.Fatalf("versitygw: create bucket: %v", err)
	}
	return s
}

// run starts versitygw on a free loopback port and waits until it serves.
func (s *Server) run(t testing.TB, bin string) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(bin, "--port", addr, "posix", s.Root)
	cmd.Env = append(os.Environ(),
		"ROOT_ACCESS_KEY="+s.Credentials.AccessKeyID,
		"ROOT_SECRET_KEY="+s.Credentials.SecretAccessKey)
	logf, err := os.Create(filepath.Join(t.TempDir(), "versitygw.log"))
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		cmd.Process.Kill()
		<-exited
		logf.Close()
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		select {
		case err := <-exited:
			exited <- err
			stop()
			b, _ := os.ReadFile(logf.Name())
			return fmt.Errorf("exited (%v): %s", err, b)
		default:
		}
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			stop()
			return fmt.Errorf("not listening on %s after 15 s", addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.Endpoint = "http://" + addr
	t.Cleanup(stop)
	return nil
}

func random(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Config is a store configuration for a fresh prefix in the bucket.
func (s *Server) Config() s3store.Config {
	return s3store.Config{
		Bucket: s.Bucket, Prefix: fmt.Sprintf("p%d/lib", s.prefixes.Add(1)),
		Endpoint: s.Endpoint, Credentials: s.Credentials,
	}
}

// Store returns a store for cfg.
func Store(t testing.TB, cfg s3store.Config) *s3store.Store {
	t.Helper()
	st, err := s3store.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// Client returns a plain S3 client of the server.
func (s *Server) Client(t testing.TB) *s3.Client {
	return Store(t, s3store.Config{Bucket: s.Bucket, Endpoint: s.Endpoint, Credentials: s.Credentials}).Client()
}
