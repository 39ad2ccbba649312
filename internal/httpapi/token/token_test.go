package token

import (
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func tokenPath(t *testing.T) string { return filepath.Join(t.TempDir(), "api-tokens.json") }

// TestCreateStoresOnlyTheHash: a token has at least 128 random bits, the
// file (mode 0600) holds its hash and never the token, and List shows
// name, time and read-only.
func TestCreateStoresOnlyTheHash(t *testing.T) {
	path := tokenPath(t)
	at := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	secret, tok, err := Create(path, "scraper", true, at)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(secret, Prefix))
	if err != nil || len(raw)*8 < 128 || !strings.HasPrefix(secret, Prefix) {
		t.Fatalf("token %q: %d random bits (%v)", secret, len(raw)*8, err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), strings.TrimPrefix(secret, Prefix)) {
		t.Fatal("the token file holds the token")
	}
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("token file mode %v, want 0600", fi.Mode().Perm())
	}
	ts, err := List(path)
	if err != nil || len(ts) != 1 || ts[0] != tok || !ts[0].ReadOnly || !ts[0].Created.Equal(at) || ts[0].Name != "scraper" {
		t.Fatalf("List = %+v, %v; want %+v", ts, err, tok)
	}
	other, _, err := Create(path, "", false, at)
	if err != nil || other == secret {
		t.Fatalf("second token %q, %v", other, err)
	}
	if _, _, err := Create(path, "scraper", false, at); !errors.Is(err, ErrExists) {
		t.Fatalf("a second token named scraper: %v, want ErrExists", err)
	}
	if _, _, err := Create(path, "no spaces", false, at); !errors.Is(err, ErrBadName) {
		t.Fatalf("a bad name: %v, want ErrBadName", err)
	}
}

// TestVerifierSeesRevokeAtOnce: a verifier that has accepted a token
// refuses it on the very next check after Revoke; the other token works on.
func TestVerifierSeesRevokeAtOnce(t *testing.T) {
	path := tokenPath(t)
	v := NewVerifier(path)
	if _, ok, err := v.Check("ferry_anything"); ok || err != nil {
		t.Fatalf("no token file: ok %v, err %v", ok, err)
	}
	a, _, _ := Create(path, "a", false, time.Now())
	b, _, _ := Create(path, "b", true, time.Now())
	for i := 0; i < 20; i++ { // create and revoke within one mtime tick
		if tok, ok, err := v.Check(a); !ok || err != nil || tok.Name != "a" || tok.ReadOnly {
			t.Fatalf("round %d: token a: %+v %v %v", i, tok, ok, err)
		}
		if err := Revoke(path, "a"); err != nil {
			t.Fatal(err)
		}
		if _, ok, _ := v.Check(a); ok {
			t.Fatalf("round %d: a revoked token still passes", i)
		}
		if tok, ok, _ := v.Check(b); !ok || !tok.ReadOnly {
			t.Fatalf("round %d: token b after revoking a: %+v %v", i, tok, ok)
		}
		a, _, _ = Create(path, "a", false, time.Now())
	}
	if _, ok, _ := v.Check(a[:len(a)-1]); ok {
		t.Fatal("a token cut short passes")
	}
	if err := Revoke(path, "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("revoke unknown: %v", err)
	}
}

// TestVerifierUnreadableFileRefuses: a token file that does not parse
// lets no token pass, and says why.
func TestVerifierUnreadableFileRefuses(t *testing.T) {
	path := tokenPath(t)
	a, _, _ := Create(path, "a", false, time.Now())
	v := NewVerifier(path)
	if _, ok, _ := v.Check(a); !ok {
		t.Fatal("token refused")
	}
	os.WriteFile(path, []byte(`{"version":99,"tokens":[]}`), 0o600)
	if _, ok, err := v.Check(a); ok || !errors.Is(err, ErrFormat) {
		t.Fatalf("newer format: ok %v, err %v", ok, err)
	}
}

// TestConcurrentCreatesKeepAll: two commands creating tokens at once
// lose neither.
func TestConcurrentCreatesKeepAll(t *testing.T) {
	path := tokenPath(t)
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, _, err := Create(path, "", false, time.Now()); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if ts, err := List(path); err != nil || len(ts) != 8 {
		t.Fatalf("%d tokens, %v; want 8", len(ts), err)
	}
}

// TestReadsVersion1Sample: the version 1 sample in testdata stays readable.
func TestReadsVersion1Sample(t *testing.T) {
	ts, err := List("testdata/api-tokens-v1.json")
	if err != nil || len(ts) != 2 || ts[0].Name != "admin" || ts[1].ReadOnly != true {
		t.Fatalf("sample: %+v, %v", ts, err)
	}
	v := NewVerifier("testdata/api-tokens-v1.json")
	if tok, ok, err := v.Check(sampleToken); !ok || err != nil || tok.Name != "metrics" {
		t.Fatalf("sample token: %+v %v %v", tok, ok, err)
	}
}

// sampleToken is the token whose hash testdata/api-tokens-v1.json holds
// as "metrics" (a test value, valid nowhere).
const sampleToken = "ferry_sample-token-for-tests-only"

func FuzzParse(f *testing.F) {
	b, _ := os.ReadFile("testdata/api-tokens-v1.json")
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		file, err := Parse(b)
		if err != nil {
			return
		}
		for _, tok := range file.Tokens {
			if _, err := decodeHash(tok.Hash); err != nil || !nameRE.MatchString(tok.Name) {
				t.Fatalf("Parse accepted %+v", tok)
			}
		}
	})
}
