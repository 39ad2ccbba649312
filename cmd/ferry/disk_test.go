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

func TestParseSize(t *testing.T) {
	good := map[string]int64{"256M": 256 << 20, "1G": 1 << 30, "10G": 10 << 30, "4096": 4096, "512k": 512 << 10, "2GiB": 2 << 30, "1T": 1 << 40, "3MB": 3 << 20}
	for s, want := range good {
		if got, err := parseSize(s); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", s, got, err, want)
		}
	}
	for _, s := range []string{"", "0", "-1G", "1.5G", "G", "1X", "9999999P"} {
		if _, err := parseSize(s); err == nil {
			t.Errorf("parseSize(%q) accepted", s)
		}
	}
	if formatSize(256<<20) != "256M" || formatSize(1<<30) != "1G" || formatSize(1536) != "1536" {
		t.Error("formatSize")
	}
}

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
	if out, err := runDisk(t, state, "create", "vol1", "--size", "256M"); err != nil || !strings.Contains(out, "vol1: 256M, 524288 blocks of 512 bytes") {
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
	if err != nil || !strings.Contains(out, "vol1") || !strings.Contains(out, "256M") {
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

func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"256M", "1G", "10GiB", "4096", "1.5G", "-1", "9P", "0x10", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := parseSize(s)
		if err != nil {
			return
		}
		if n <= 0 {
			t.Fatalf("parseSize(%q) = %d", s, n)
		}
		if back, err := parseSize(formatSize(uint64(n))); err != nil || back != n {
			t.Fatalf("parseSize(formatSize(%d)) = %d, %v", n, back, err)
		}
	})
}
