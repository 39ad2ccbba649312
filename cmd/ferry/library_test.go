package main

import (
	"fmt"
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

// TestLibraryCreateLayout: `ferry library create --drives --slots
// --mail-slots` makes that library, its drives loaded from its last slots
// (each with that slot as source); a second create is refused and leaves
// it as it is; a negative count is refused.
func TestLibraryCreateLayout(t *testing.T) {
	c := cli{t: t, bin: ferryBinary(t), state: t.TempDir()}
	if out, err := c.exec("library", "create", "--drives", "3", "--slots", "2"); err == nil {
		t.Fatalf("library create with fewer slots than drives succeeded: %s", out)
	}
	out := c.run("library", "create", "--drives", "6", "--slots", "10", "--mail-slots", "3")
	if !strings.Contains(out, "6 drives, 10 slots, 3 mail slots") {
		t.Fatalf("library create said %q", out)
	}
	if out, err := c.exec("library", "create", "--drives", "1"); err == nil {
		t.Fatalf("a second library create succeeded: %s", out)
	}
	var els []struct {
		Address uint16 `json:"address"`
		Type    string `json:"type"`
		Full    bool   `json:"full"`
		Barcode string `json:"barcode"`
		Source  *int   `json:"source"`
	}
	c.runJSON(&els, "tape", "ls", "--json")
	count, full := map[string]int{}, map[string]int{}
	for _, e := range els {
		count[e.Type]++
		if e.Full {
			full[e.Type]++
		}
		if e.Type == "data transfer" {
			i := int(e.Address) - 0x0100
			if e.Barcode != fmt.Sprintf("FRY%03dL8", 5+i) || e.Source == nil || *e.Source != 0x1000+4+i {
				t.Errorf("drive %d: %+v", i, e)
			}
		}
	}
	if count["data transfer"] != 6 || count["storage"] != 10 || count["import/export"] != 3 ||
		full["data transfer"] != 6 || full["storage"] != 4 {
		t.Fatalf("elements %v, full %v", count, full)
	}
}
