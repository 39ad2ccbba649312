package server

import (
	"os"
	"path/filepath"
	"testing"

	"ferry/internal/library"
	"ferry/internal/tape/store/s3store/s3test"
	"ferry/internal/testsupport/ndmjobtest"
	"ferry/internal/testsupport/servetest"
)

// TestNdmjobConformanceS3 runs ndmjob's tape and mover series (v4, MD5)
// against a library whose cartridges live in a real S3 server.
func TestNdmjobConformanceS3(t *testing.T) {
	ndmjobtest.Find(t) // skips (or fails in CI) before a server starts
	srv := s3test.Start(t)
	for _, series := range []string{"test-tape", "test-mover"} {
		t.Run(series, func(t *testing.T) {
			ts := newS3TestServer(t, srv)
			ts.loadDrive(t, "tape0")
			r := ndmjob(t, ts, "-o", series, "-T", ts.agent("4m"), "-f", "tape0")
			r.RequirePassed(t)
			t.Logf("%s: %d phases, FINAL %+v", series, len(r.Phases), *r.Final)
		})
	}
}

// newS3TestServer is newTestServer over a library in S3.
func newS3TestServer(t *testing.T, srv *s3test.Server) *testServer {
	t.Helper()
	dir := t.TempDir()
	o := library.DefaultOptions()
	o.Cartridges = s3test.Store(t, srv.Config())
	lib, err := library.OpenWith(filepath.Join(dir, "library"), o)
	if err != nil {
		t.Fatal(err)
	}
	export := filepath.Join(dir, "export")
	if err := os.Mkdir(export, 0o755); err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{
		Library:     lib,
		Exports:     []string{export},
		Credentials: map[string]string{testUser: testPassword},
		Logger:      testLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lib.Close() })
	ts := &testServer{Server: s, lib: lib, export: export}
	ts.addr = servetest.Start(t, s)
	return ts
}
