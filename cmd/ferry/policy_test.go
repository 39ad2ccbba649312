package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"ferry/internal/testsupport/fstree"
	"ferry/internal/view"
)

// TestPolicyCLI runs the built binary: policy add records a policy and
// says when it runs next, refuses a bad schedule, a bad retention and a
// taken name; policy run makes a full then an incremental backup of it now;
// policy ls shows the last result and the next run; policy rm removes it
// and its backups stay.
func TestPolicyCLI(t *testing.T) {
	bin := ferryBinary(t)
	state := t.TempDir()
	src := filepath.Join(t.TempDir(), "home")
	must(t, os.Mkdir(src, 0o755))
	fstree.Build(t, src, fstree.ManySmall(10, 1000))

	var added view.Policy
	out := ferryCLI(t, bin, state, "policy", "add", "home", "--source", src, "--full", "0 2 * * sun",
		"--incremental", "0 2 * * mon-sat", "--keep", "4", "--json")
	if err := json.Unmarshal([]byte(out), &added); err != nil || added.Name != "home" || added.Source != src || added.NextRun == nil ||
		added.NextRun.Hour() != 2 || added.LastRun != nil {
		t.Fatalf("policy add: %v %s", err, out)
	}
	for _, bad := range [][]string{
		{"policy", "add", "x", "--source", src, "--full", "0 2 * *", "--keep", "4"},
		{"policy", "add", "x", "--source", src, "--full", "0 2 * * *", "--keep", "forever"},
		{"policy", "add", "home", "--source", src, "--full", "0 2 * * *", "--keep", "30d"},
		{"policy", "add", "x", "--source", filepath.Join(src, "nosuch"), "--full", "0 2 * * *", "--keep", "30d"},
	} {
		if out, err := exec.Command(bin, append([]string{"--state", state}, bad...)...).CombinedOutput(); err == nil {
			t.Errorf("ferry %v succeeded: %s", bad, out)
		}
	}
	ls := ferryCLI(t, bin, state, "policy", "ls")
	if !strings.Contains(ls, "home") || !strings.Contains(ls, "never run") || strings.Contains(ls, "\nx ") {
		t.Fatalf("policy ls:\n%s", ls)
	}

	var full, incr view.PolicyRun
	must(t, json.Unmarshal([]byte(ferryCLI(t, bin, state, "policy", "run", "home", "--json")), &full))
	must(t, json.Unmarshal([]byte(ferryCLI(t, bin, state, "policy", "run", "home", "--incremental", "--json")), &incr))
	if full.State != "succeeded" || full.Kind != "full" || full.Cause != "manual" || full.Backup == 0 ||
		incr.State != "succeeded" || incr.Kind != "incremental" || incr.Backup <= full.Backup {
		t.Fatalf("policy run: %+v then %+v", full, incr)
	}
	var vs []view.Policy
	must(t, json.Unmarshal([]byte(ferryCLI(t, bin, state, "policy", "ls", "--json")), &vs))
	if len(vs) != 1 || vs[0].LastRun == nil || vs[0].LastRun.ID != incr.ID || vs[0].LastSuccess == nil {
		t.Fatalf("policy ls --json: %+v", vs)
	}
	if ls := ferryCLI(t, bin, state, "policy", "ls"); !strings.Contains(ls, "incremental succeeded") {
		t.Fatalf("policy ls after the runs:\n%s", ls)
	}
	var bs []view.Backup
	must(t, json.Unmarshal([]byte(ferryCLI(t, bin, state, "backups", "--json")), &bs))
	if len(bs) != 2 || bs[1].Level != 1 {
		t.Fatalf("backups: %+v", bs)
	}

	ferryCLI(t, bin, state, "policy", "rm", "home")
	if out, err := exec.Command(bin, "--state", state, "policy", "rm", "home").CombinedOutput(); err == nil {
		t.Fatalf("policy rm twice succeeded: %s", out)
	}
	must(t, json.Unmarshal([]byte(ferryCLI(t, bin, state, "policy", "ls", "--json")), &vs))
	if len(vs) != 0 {
		t.Fatalf("policy ls after rm: %+v", vs)
	}
	must(t, json.Unmarshal([]byte(ferryCLI(t, bin, state, "backups", "--json")), &bs))
	if len(bs) != 2 {
		t.Fatalf("backups after policy rm: %+v", bs)
	}
}
