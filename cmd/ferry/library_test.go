package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ferry/internal/tape/store/s3store/s3test"
	"ferry/internal/testsupport/fstree"
)

// TestLibraryInS3Commands: `ferry library create --store s3://...` puts
// the library's cartridges in a real S3 server; `ferry backup` writes
// there and `ferry restore` brings back an identical tree; the secret is
// printed nowhere and stored in no file of the state directory.
func TestLibraryInS3Commands(t *testing.T) {
	srv := s3test.Start(t)
	cfg := srv.Config()
	creds := filepath.Join(t.TempDir(), "s3-credentials")
	body := "access_key_id = " + srv.Credentials.AccessKeyID + "\nsecret_access_key = " + srv.Credentials.SecretAccessKey + "\n"
	if err := os.WriteFile(creds, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	c := cli{t: t, bin: ferryBinary(t), state: t.TempDir()}
	url := "s3://" + cfg.Bucket + "/" + cfg.Prefix
	out := c.run("library", "create", "--store", url, "--endpoint", srv.Endpoint, "--credentials-file", creds)
	if !strings.Contains(out, url) {
		t.Fatalf("library create said %q", out)
	}
	if out, err := c.exec("library", "create", "--store", url, "--endpoint", srv.Endpoint, "--credentials-file", creds); err == nil {
		t.Fatalf("a second library create succeeded: %s", out)
	}

	src := filepath.Join(t.TempDir(), "src")
	if err := os.Mkdir(src, 0o755); err != nil {
		t.Fatal(err)
	}
	sourceTree(t, src)
	b := c.backup(src)
	got := c.restore(b.ID)
	fstree.Compare(t, src, got, treeOpts)

	// The cartridge is in S3, not in the state directory.
	if ents, _ := os.ReadDir(filepath.Join(c.state, "library", "tapes")); len(ents) != 0 {
		t.Fatalf("%d cartridge files in the state directory of a library in S3", len(ents))
	}
	head := filepath.Join(srv.Root, cfg.Bucket, cfg.Prefix, b.Locations[0].Barcode+".head")
	if _, err := os.Stat(head); err != nil {
		t.Fatalf("the backup's cartridge is not in S3: %v", err)
	}
	filepath.WalkDir(c.state, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		if data, _ := os.ReadFile(p); strings.Contains(string(data), srv.Credentials.SecretAccessKey) {
			t.Errorf("%s holds the S3 secret", p)
		}
		return nil
	})

	// A wrong secret: the command fails and does not print it.
	wrong := "wrong-" + strings.Repeat("S", 30)
	os.WriteFile(creds, []byte("access_key_id = "+srv.Credentials.AccessKeyID+"\nsecret_access_key = "+wrong+"\n"), 0o600)
	out, err := c.exec("backup", src)
	if err == nil {
		t.Fatal("backup with a wrong S3 secret succeeded")
	}
	if strings.Contains(out, wrong) {
		t.Fatalf("ferry printed the S3 secret: %s", out)
	}
}
