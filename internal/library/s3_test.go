package library

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"ferry/internal/tape/store/s3store/s3test"
)

// TestLibraryInS3: `ferry library create --store s3://...` in code: the
// library's cartridges are made in a real S3 server; every later Open of
// the directory (another process's) finds them through store.json, which
// holds no secret; a second create is refused.
func TestLibraryInS3(t *testing.T) {
	srv := s3test.Start(t)
	cfg := srv.Config()
	creds := filepath.Join(t.TempDir(), "s3-credentials")
	body := "access_key_id = " + srv.Credentials.AccessKeyID + "\nsecret_access_key = " + srv.Credentials.SecretAccessKey + "\n"
	if err := os.WriteFile(creds, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	sc := StoreConfig{URL: "s3://" + cfg.Bucket + "/" + cfg.Prefix, Endpoint: srv.Endpoint, CredentialsFile: creds}
	dir := filepath.Join(t.TempDir(), "library")
	l, err := CreateInStore(dir, sc, small())
	if err != nil {
		t.Fatal(err)
	}
	m, err := l.OpenDrive("d0", false)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []string{"VOL1", "", "file one"} {
		if r == "" {
			m.WriteFilemarks(1)
			continue
		}
		if err := m.WriteRecord([]byte(r)); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.CloseDrive("d0", m); err != nil {
		t.Fatal(err)
	}
	l.Close()

	stored, err := os.ReadFile(filepath.Join(dir, storeFile))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(stored), srv.Credentials.SecretAccessKey) || strings.Contains(string(stored), srv.Credentials.AccessKeyID) {
		t.Fatalf("store.json holds credentials: %s", stored)
	}
	if ents, _ := os.ReadDir(filepath.Join(dir, tapesDir)); len(ents) != 0 {
		t.Fatalf("%d cartridge files made for a library in S3", len(ents))
	}

	l2, err := Open(dir) // as another process would: only the directory
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	m, err = l2.OpenDrive("d0", true)
	if err != nil {
		t.Fatal(err)
	}
	m.SpaceFilemarks(1)
	buf := make([]byte, 64)
	if n, err := m.ReadRecord(buf); err != nil || string(buf[:n]) != "file one" {
		t.Fatalf("record from S3 after reopening: %q, %v", buf[:n], err)
	}
	l2.CloseDrive("d0", m)
	if w, err := Written(dir); err != nil || !slices.Equal(w, []string{"T004L8"}) {
		t.Fatalf("Written = %q, %v", w, err)
	}
	if _, err := CreateInStore(dir, sc, small()); !errors.Is(err, ErrLibraryExists) {
		t.Fatalf("second create: %v, want ErrLibraryExists", err)
	}
}

// TestLibraryInS3BadCredentials: a library whose credentials the server
// refuses is not created, and the error does not show the secret.
func TestLibraryInS3BadCredentials(t *testing.T) {
	srv := s3test.Start(t)
	cfg := srv.Config()
	secret := "not-the-secret-" + strings.Repeat("Q", 16)
	t.Setenv("AWS_ACCESS_KEY_ID", srv.Credentials.AccessKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", secret)
	dir := filepath.Join(t.TempDir(), "library")
	_, err := CreateInStore(dir, StoreConfig{URL: "s3://" + cfg.Bucket + "/" + cfg.Prefix, Endpoint: srv.Endpoint}, small())
	if err == nil {
		t.Fatal("created with a wrong secret")
	}
	if strings.Contains(err.Error(), secret) {
		t.Fatalf("error shows the secret: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, storeFile)); err == nil {
		t.Fatal("store.json written for a store that refused us")
	}
}
