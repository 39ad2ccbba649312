package main

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"ferry/internal/node"
)

func runTargetCmd(t *testing.T, state string, args ...string) (string, error) {
	t.Helper()
	cmd := newTargetCommand(&globalOptions{state: state})
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), err
}

// TestTargetLsIsStable checks that the IQN is made once and kept.
func TestTargetLsIsStable(t *testing.T) {
	state := t.TempDir()
	first, err := runTargetCmd(t, state, "ls")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(first, "iqn.2026-01.dev.ferry:") {
		t.Fatalf("ls = %q", first)
	}
	again, _ := runTargetCmd(t, state, "ls")
	if again != first {
		t.Errorf("IQN changed: %q then %q", first, again)
	}
	fi, err := os.Stat(node.Layout{Root: state}.TargetState())
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("state file: %v %v", fi.Mode(), err)
	}
}

func TestTargetAllow(t *testing.T) {
	state := t.TempDir()
	secret := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(secret, []byte("a-secret-of-16-b\n"), 0o600)
	if _, err := runTargetCmd(t, state, "allow", "iqn.2026-01.org.example:host1", "--chap-secret-file", secret); err != nil {
		t.Fatal(err)
	}
	if _, err := runTargetCmd(t, state, "allow", "iqn.2026-01.org.example:host2", "--no-chap"); err != nil {
		t.Fatal(err)
	}
	if _, err := runTargetCmd(t, state, "allow", "not-a-name", "--no-chap"); err == nil {
		t.Error("bad initiator name accepted")
	}
	os.WriteFile(secret, []byte("short\n"), 0o600)
	_, err := runTargetCmd(t, state, "allow", "iqn.2026-01.org.example:host3", "--chap-secret-file", secret)
	if err == nil || !strings.Contains(err.Error(), "is 5 bytes; it must be 12 to 255") {
		t.Errorf("short CHAP secret: %v, want a refusal naming the length", err)
	}
	out, err := runTargetCmd(t, state, "ls")
	if err != nil || !strings.Contains(out, "host1  chap") || !strings.Contains(out, "host2  none") || strings.Contains(out, "host3") {
		t.Errorf("ls:\n%s %v", out, err)
	}
	cfg, err := node.TargetConfig(node.Layout{Root: state})
	if err != nil || len(cfg.ACL) != 2 || string(cfg.ACL[0].Secret) != "a-secret-of-16-b" || cfg.ACL[1].Secret != nil {
		t.Errorf("targetConfig = %+v, %v", cfg, err)
	}
}

// TestTargetAllowKeepsCHAP: allow without a secret file neither drops an
// initiator's CHAP secret nor adds an initiator without saying --no-chap.
func TestTargetAllowKeepsCHAP(t *testing.T) {
	state := t.TempDir()
	secret := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(secret, []byte("a-secret-of-16-b\n"), 0o600)
	const host = "iqn.2026-01.org.example:host1"
	if _, err := runTargetCmd(t, state, "allow", host, "--chap-secret-file", secret); err != nil {
		t.Fatal(err)
	}
	_, err := runTargetCmd(t, state, "allow", host)
	if err == nil || !strings.Contains(err.Error(), "--no-chap") {
		t.Errorf("allow without a secret of a CHAP initiator: %v, want a refusal naming --no-chap", err)
	}
	if out, _ := runTargetCmd(t, state, "ls"); !strings.Contains(out, "host1  chap") {
		t.Errorf("the CHAP secret was dropped:\n%s", out)
	}
	_, err = runTargetCmd(t, state, "allow", "iqn.2026-01.org.example:new")
	if err == nil || !strings.Contains(err.Error(), "--chap-secret-file") || !strings.Contains(err.Error(), "--no-chap") {
		t.Errorf("allow of a new initiator with neither flag: %v, want an error asking for one", err)
	}
	if _, err := runTargetCmd(t, state, "allow", host, "--chap-secret-file", secret, "--no-chap"); err == nil {
		t.Error("both --chap-secret-file and --no-chap accepted")
	}
	if _, err := runTargetCmd(t, state, "allow", host, "--no-chap"); err != nil {
		t.Fatal(err)
	}
	if out, _ := runTargetCmd(t, state, "ls"); !strings.Contains(out, "host1  none") || strings.Contains(out, "new") {
		t.Errorf("after --no-chap:\n%s", out)
	}
}

func TestTargetName(t *testing.T) {
	state := t.TempDir()
	if _, err := runTargetCmd(t, state, "name", "iqn.2005-03.com.example:backup-1"); err != nil {
		t.Fatal(err)
	}
	out, err := runTargetCmd(t, state, "ls")
	if err != nil || !strings.HasPrefix(out, "iqn.2005-03.com.example:backup-1\n") {
		t.Fatalf("ls after name = %q, %v", out, err)
	}
	for _, bad := range []string{
		"iqn.2005-13.com.example:x", "iqn.05-03.com.example", "iqn.2005-03", "IQN.2005-03.com.example",
		"iqn.2005-03.com.Example:x", "eui.0123", "naa.0123456789abcdeg", "host1", "iqn.2005-03.com.example:a b",
	} {
		if _, err := runTargetCmd(t, state, "name", bad); err == nil {
			t.Errorf("name %q accepted", bad)
		}
	}
	for _, good := range []string{"eui.02004567a425678d", "naa.52004567ba64678d", "naa.52004567ba64678d0123456789abcdef", "iqn.2001-04.com.example"} {
		if _, err := runTargetCmd(t, state, "name", good); err != nil {
			t.Errorf("name %q: %v", good, err)
		}
	}
	out, _ = runTargetCmd(t, state, "ls")
	if !strings.HasPrefix(out, "iqn.2001-04.com.example\n") {
		t.Errorf("ls = %q", out)
	}
}

// TestTargetAllowMasking: --disk and --library write the LUs an entry
// sees to the state, ls shows them, and an entry without them sees all.
func TestTargetAllowMasking(t *testing.T) {
	state := t.TempDir()
	if _, err := runTargetCmd(t, state, "allow", "iqn.2026-01.org.example:a", "--no-chap", "--disk", "a", "--disk", "c"); err != nil {
		t.Fatal(err)
	}
	if _, err := runTargetCmd(t, state, "allow", "iqn.2026-01.org.example:b", "--no-chap", "--library"); err != nil {
		t.Fatal(err)
	}
	if _, err := runTargetCmd(t, state, "allow", "iqn.2026-01.org.example:c", "--no-chap"); err != nil {
		t.Fatal(err)
	}
	if _, err := runTargetCmd(t, state, "allow", "iqn.2026-01.org.example:d", "--no-chap", "--library=other"); err == nil {
		t.Error("a library the node does not have accepted")
	}
	s, err := node.LoadTargetState(node.Layout{Root: state})
	if err != nil {
		t.Fatal(err)
	}
	want := []node.ACLEntry{
		{Initiator: "iqn.2026-01.org.example:a", Disks: []string{"a", "c"}},
		{Initiator: "iqn.2026-01.org.example:b", Libraries: []string{"changer0"}},
		{Initiator: "iqn.2026-01.org.example:c"},
	}
	if !reflect.DeepEqual(s.ACL, want) || s.Version != 1 {
		t.Errorf("state = version %d, ACL %+v; want %+v", s.Version, s.ACL, want)
	}
	out, err := runTargetCmd(t, state, "ls")
	for _, w := range []string{"disk a, disk c", "library changer0", ":c  none  all LUs"} {
		if err != nil || !strings.Contains(out, w) {
			t.Errorf("ls lacks %q:\n%s %v", w, out, err)
		}
	}
}

// TestTargetAllowRemote: allow-remote keeps a remote target (portal, IQN,
// CHAP secret, designators) on an initiator's entry, refuses an initiator
// not on the ACL, a host name and a bad designator; ls shows the remote
// but never its secret; a later allow of the initiator keeps its remotes;
// deny-remote takes it off.
func TestTargetAllowRemote(t *testing.T) {
	state := t.TempDir()
	const ini, remote = "iqn.2005-03.com.example:dm", "192.0.2.7:3260/iqn.2005-03.com.example:array"
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte("remote-secret-16b\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := runTargetCmd(t, state, "allow-remote", ini, remote); err == nil || !strings.Contains(err.Error(), "not on the access list") {
		t.Fatalf("allow-remote of an initiator not on the ACL: %v", err)
	}
	if _, err := runTargetCmd(t, state, "allow", ini, "--no-chap"); err != nil {
		t.Fatal(err)
	}
	for _, bad := range [][]string{
		{remote[:len("192.0.2.7:3260")]},
		{"array.example.com:3260/iqn.2005-03.com.example:array"},
		{remote, "--designator", "xyz"},
		{remote, "--chap-user", "u"},
	} {
		if _, err := runTargetCmd(t, state, append([]string{"allow-remote", ini}, bad...)...); err == nil {
			t.Errorf("allow-remote %v accepted", bad)
		}
	}
	if _, err := runTargetCmd(t, state, "allow-remote", ini, remote, "--chap-secret-file", secret, "--designator", "600A0B80"); err != nil {
		t.Fatal(err)
	}
	out, err := runTargetCmd(t, state, "ls")
	if err != nil || !strings.Contains(out, "remote  "+remote+"  chap  designators 600a0b80") || strings.Contains(out, "remote-secret") {
		t.Fatalf("ls = %q, %v", out, err)
	}
	if _, err := runTargetCmd(t, state, "allow", ini, "--no-chap", "--disk", "vol"); err != nil {
		t.Fatal(err)
	}
	s, err := node.LoadTargetState(node.Layout{Root: state})
	want := []node.RemoteTarget{{Portal: "192.0.2.7:3260", IQN: "iqn.2005-03.com.example:array",
		CHAPSecret: "remote-secret-16b", Designators: []string{"600a0b80"}}}
	if err != nil || len(s.ACL) != 1 || !reflect.DeepEqual(s.ACL[0].Remotes, want) {
		t.Fatalf("remotes after allow: %+v %v", s.ACL, err)
	}
	if _, err := runTargetCmd(t, state, "deny-remote", ini, remote); err != nil {
		t.Fatal(err)
	}
	if s, _ = node.LoadTargetState(node.Layout{Root: state}); len(s.ACL[0].Remotes) != 0 {
		t.Fatalf("remotes after deny-remote: %+v", s.ACL[0].Remotes)
	}
}
