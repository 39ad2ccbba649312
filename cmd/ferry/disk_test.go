package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ferry/internal/disk"
)

// runDisk runs a ferry disk subcommand on a state directory.
func runDisk(t *testing.T, state string, args ...string) (string, error) {
	t.Helper()
	g := &globalOptions{state: state}
	cmd := newDiskCommand(g)
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), err
}

func TestDiskCreateAndLs(t *testing.T) {
	state := t.TempDir()
	if out, err := runDisk(t, state, "create", "vol1", "--size", "256M"); err != nil || !strings.Contains(out, "vol1: 256 MiB, 524288 blocks of 512 bytes") {
		t.Fatalf("create: %q, %v", out, err)
	}
	fi, err := os.Stat(filepath.Join(state, "disks", "vol1.img"))
	if err != nil || fi.Size() != 256<<20 {
		t.Fatalf("image: %v %v", fi, err)
	}
	if _, err := runDisk(t, state, "create", "vol1", "--size", "1G"); err == nil {
		t.Fatal("second create of the same name succeeded")
	}
	if _, err := runDisk(t, state, "create", "vol2"); err == nil {
		t.Fatal("create without --size succeeded")
	}
	raw := filepath.Join(t.TempDir(), "raw")
	if err := os.WriteFile(raw, make([]byte, 1<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := runDisk(t, state, "create", "att", "--from", raw, "--block-size", "4096"); err != nil {
		t.Fatal(err)
	}
	out, err := runDisk(t, state, "ls", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var list []disk.Meta
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("ls --json: %v in %q", err, out)
	}
	if len(list) != 2 || list[0].Name != "att" || list[0].Image != raw || list[0].BlockSize != 4096 || list[1].Name != "vol1" {
		t.Fatalf("ls --json: %+v", list)
	}
	out, err = runDisk(t, state, "ls")
	if err != nil || !strings.Contains(out, "vol1") || !strings.Contains(out, "256 MiB") {
		t.Fatalf("ls: %q %v", out, err)
	}
	if _, err := runDisk(t, state, "rm", "att"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(raw); err != nil {
		t.Fatalf("rm removed the attached image: %v", err)
	}
	if _, err := runDisk(t, state, "rm", "att"); err == nil {
		t.Fatal("rm of a removed disk succeeded")
	}
	out, _ = runDisk(t, state, "ls", "--json")
	if strings.Contains(out, `"att"`) {
		t.Fatalf("ls after rm: %s", out)
	}
}

// TestDiskSizeRoundTrip: the size disk ls prints, given back to --size,
// makes a disk of the same size, and --json keeps the exact bytes.
func TestDiskSizeRoundTrip(t *testing.T) {
	state := t.TempDir()
	for name, text := range map[string]string{"a": "1.5GiB", "b": "10 GiB", "c": "3M", "d": "1049088"} {
		if out, err := runDisk(t, state, "create", name, "--size", text); err != nil {
			t.Fatalf("create %s --size %q: %q, %v", name, text, out, err)
		}
	}
	if _, err := runDisk(t, state, "create", "zero", "--size", "0 B"); err == nil {
		t.Fatal("create --size 0 succeeded")
	}
	out, err := runDisk(t, state, "ls")
	if err != nil {
		t.Fatal(err)
	}
	printed := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n")[1:] {
		f := strings.Fields(line) // NAME INDEX SIZE UNIT BLOCK ...
		printed[f[0]] = f[2] + " " + f[3]
	}
	want := map[string]string{"a": "1.5 GiB", "b": "10 GiB", "c": "3 MiB", "d": "1.0 MiB"}
	for name, w := range want {
		if printed[name] != w {
			t.Errorf("ls prints %s as %q, want %q\n%s", name, printed[name], w, out)
		}
	}
	for _, name := range []string{"a", "b", "c"} { // exact sizes: no decimal, or a decimal that is exact
		if _, err := runDisk(t, state, "create", name+"2", "--size", printed[name]); err != nil {
			t.Fatalf("create --size %q (what ls printed): %v", printed[name], err)
		}
	}
	out, err = runDisk(t, state, "ls", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var list []disk.Meta
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatal(err)
	}
	sizes := map[string]uint64{}
	for _, m := range list {
		sizes[m.Name] = m.Size
	}
	if sizes["a"] != 3<<29 || sizes["b"] != 10<<30 || sizes["c"] != 3<<20 || sizes["d"] != 1049088 {
		t.Fatalf("ls --json sizes: %v", sizes)
	}
	for _, name := range []string{"a", "b", "c"} {
		if sizes[name+"2"] != sizes[name] {
			t.Errorf("%s is %d bytes, the disk made from its printed size %q is %d", name, sizes[name], printed[name], sizes[name+"2"])
		}
	}
}
