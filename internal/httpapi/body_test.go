package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestParseBody: one object with known fields, nothing after it, checked.
func TestParseBody(t *testing.T) {
	for _, c := range []struct {
		in string
		ok bool
	}{
		{`{"source":"/x","level":2,"exclude":["*.o"]}`, true},
		{`{"source":"/x"} {"source":"/y"}`, false},
		{`{"source":"/x"}]`, false},
		{`{"source":"/x","secret":1}`, false},
		{`{"source":""}`, false},
		{`{"source":"/x","level":-1}`, false},
		{`{"source":"/x","level":100}`, false},
		{`{"source":"/x","exclude":[""]}`, false},
		{`{"source":"/x\u0000y"}`, false},
		{`[]`, false},
		{``, false},
	} {
		var b backupBody
		err := parseBody([]byte(c.in), &b)
		var ae *apiError
		if (err == nil) != c.ok || (err != nil && (!errors.As(err, &ae) || ae.code != "bad_request")) {
			t.Errorf("%s: %v", c.in, err)
		}
	}
}

// FuzzJobBodies: any body either is refused as a bad request or parses
// into a request that checks, and says the same once re-encoded.
func FuzzJobBodies(f *testing.F) {
	for _, s := range []string{
		`{"source":"/srv/a","tape":"ndmp://local/tape1","level":1,"exclude":["*.tmp"]}`,
		`{"source":"ndmp://filer/vol0","incremental":true}`,
		`{"backup":3,"to":"/srv/r","paths":["/a","b/c"],"overwrite":true}`,
		`{"backup":3,"tape":"ndmp://local/tape0"}`,
		`{"source":"/a","destination":"ndmp://nas/b","overwrite":true}`,
		`{"backup":1e400}`, `{"to":null}`, `{}{}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		for _, v := range []interface{ check() error }{&backupBody{}, &restoreBody{}, &verifyBody{}, &copyBody{}} {
			err := parseBody([]byte(in), v)
			if err != nil {
				var ae *apiError
				if !errors.As(err, &ae) || ae.status != 400 {
					t.Fatalf("%T %q: %v", v, in, err)
				}
				continue
			}
			out, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			again := fresh(v)
			err = parseBody(out, again)
			out2, _ := json.Marshal(again)
			if err != nil || !bytes.Equal(out, out2) {
				t.Fatalf("%T %q re-encoded %s, then %s: %v", v, in, out, out2, err)
			}
		}
	})
}

// TestConfine: paths are judged after symlinks and ".." are resolved,
// whether they exist yet or not; an unreadable directory on the way is
// refused rather than guessed.
func TestConfine(t *testing.T) {
	root := t.TempDir()
	exp, state, out := filepath.Join(root, "exp"), filepath.Join(root, "exp", "state"), filepath.Join(root, "out")
	for _, d := range []string{exp, state, out, filepath.Join(exp, "locked")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Symlink(out, filepath.Join(exp, "to-out")))
	must(os.Symlink("../exp", filepath.Join(out, "back-in")))
	must(os.Symlink(filepath.Join(out, "not-yet"), filepath.Join(exp, "dangling")))
	must(os.Symlink(state, filepath.Join(exp, "to-state")))
	c := newConfine([]string{exp}, state)
	for _, tc := range []struct {
		p    string
		want string // resolved, or the error code
	}{
		{exp, exp},
		{exp + "/a/b", exp + "/a/b"},
		{exp + "/a/../b", exp + "/b"},
		{exp + "/../out", "path_not_exported"},
		{exp + "x", "path_not_exported"},
		{exp + "/to-out/new", "path_not_exported"},
		{out + "/back-in/x", exp + "/x"},
		{exp + "/dangling/x", "bad_request"}, // mkdir would follow it out
		{exp + "/to-state/x", "path_in_state_directory"},
		{state, "path_in_state_directory"},
		{"exp/a", "bad_request"},
		{"/", "path_not_exported"},
	} {
		got, err := c.check(tc.p)
		var ae *apiError
		if errors.As(err, &ae) {
			got = ae.code
		} else if err != nil {
			got = err.Error()
		}
		if got != tc.want {
			t.Errorf("check(%s) = %s, want %s", tc.p, got, tc.want)
		}
	}
	if os.Geteuid() != 0 { // root reads any directory
		must(os.Chmod(filepath.Join(exp, "locked"), 0))
		defer os.Chmod(filepath.Join(exp, "locked"), 0o755)
		if _, err := c.check(exp + "/locked/x/y"); err == nil || !strings.Contains(err.Error(), "cannot be resolved") {
			t.Errorf("a path through an unreadable directory: %v", err)
		}
	}
}

// fresh returns a zero body of v's kind.
func fresh(v interface{ check() error }) interface{ check() error } {
	switch v.(type) {
	case *backupBody:
		return &backupBody{}
	case *restoreBody:
		return &restoreBody{}
	case *verifyBody:
		return &verifyBody{}
	}
	return &copyBody{}
}
