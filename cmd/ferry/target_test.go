package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
	fi, err := os.Stat(filepath.Join(state, targetStateFile))
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
	if _, err := runTargetCmd(t, state, "allow", "iqn.2026-01.org.example:host2"); err != nil {
		t.Fatal(err)
	}
	if _, err := runTargetCmd(t, state, "allow", "not-a-name"); err == nil {
		t.Error("bad initiator name accepted")
	}
	os.WriteFile(secret, []byte("short\n"), 0o600)
	if _, err := runTargetCmd(t, state, "allow", "iqn.2026-01.org.example:host3", "--chap-secret-file", secret); err == nil {
		t.Error("short CHAP secret accepted")
	}
	out, err := runTargetCmd(t, state, "ls")
	if err != nil || !strings.Contains(out, "host1  chap") || !strings.Contains(out, "host2  none") || strings.Contains(out, "host3") {
		t.Errorf("ls:\n%s %v", out, err)
	}
	cfg, err := targetConfig(state)
	if err != nil || len(cfg.ACL) != 2 || string(cfg.ACL[0].Secret) != "a-secret-of-16-b" || cfg.ACL[1].Secret != nil {
		t.Errorf("targetConfig = %+v, %v", cfg, err)
	}
}
