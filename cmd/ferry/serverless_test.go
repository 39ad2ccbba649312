package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"ferry/internal/disk"
	"ferry/internal/library"
	"ferry/internal/node"
)

const serverlessDisk = 96 << 20

// TestServerlessTargetCLI runs the real binary as the data manager
// against a ferry target on loopback: `target add` and `target ls`, then
// `backup --serverless` of a disk of random data and holes, whose own
// reads and writes (files and sockets, /proc/PID/io) stay under 1% of
// the image, and `restore --serverless` onto another disk: identical.
func TestServerlessTargetCLI(t *testing.T) {
	bin := ferryBinary(t)
	san := t.TempDir()
	l := node.Layout{Root: san}
	lib, err := library.Open(l.Library())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lib.Close() })
	for _, name := range []string{"src", "dst"} {
		if _, err := disk.Create(l.Disks(), name, serverlessDisk, disk.Options{}); err != nil {
			t.Fatal(err)
		}
	}
	want := make([]byte, serverlessDisk)
	f, err := os.OpenFile(filepath.Join(l.Disks(), "src.img"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(7, 7))
	for off := 0; off < serverlessDisk; off += 4 << 20 {
		n := (rng.IntN(4096) + 1) * 512 * 2
		p := want[off : off+n]
		for i := range p {
			p[i] = byte(rng.Uint32())
		}
		if _, err := f.WriteAt(p, int64(off)); err != nil {
			t.Fatal(err)
		}
	}
	f.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := node.StartISCSI(l, lib, ln, time.Hour, false, slog.New(slog.DiscardHandler), make(chan error, 1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	state := t.TempDir()
	run := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(bin, append([]string{"--state", state}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("ferry %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	url := "iscsi://" + srv.Addr().String() + "/" + srv.Name()
	run("target", "add", "san1", url)
	if out := run("target", "ls"); !strings.Contains(out, "san1") || !strings.Contains(out, url) {
		t.Fatalf("target ls:\n%s", out)
	}

	backup := exec.Command(bin, "--state", state, "backup", "--serverless", "san1/5", "--json")
	var stdout, stderr bytes.Buffer
	backup.Stdout, backup.Stderr = &stdout, &stderr
	io := runCounted(t, backup)
	var doc struct {
		ID         int64 `json:"id"`
		Serverless struct {
			DataPath   string `json:"data_path"`
			Note       string `json:"note"`
			ImageBytes int64  `json:"image_bytes"`
		} `json:"serverless"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &doc); err != nil {
		t.Fatalf("backup --json: %v\n%s\n%s", err, stdout.Bytes(), stderr.Bytes())
	}
	s := doc.Serverless
	if s.DataPath != "copy manager" || s.Note != "not point-in-time" || s.ImageBytes < serverlessDisk/8 {
		t.Fatalf("backup: %s", stdout.Bytes())
	}
	if moved := io["rchar"] + io["wchar"]; moved*100 >= s.ImageBytes {
		t.Fatalf("the data manager read and wrote %d bytes (%v) for a %d-byte image: not under 1%%", moved, io, s.ImageBytes)
	} else {
		t.Logf("data manager I/O: %d bytes for a %d-byte image (%.3f%%)", moved, s.ImageBytes, 100*float64(moved)/float64(s.ImageBytes))
	}
	run("restore", "--serverless", fmt.Sprint(doc.ID), "--to", "san1/6")
	got, err := os.ReadFile(filepath.Join(l.Disks(), "dst.img"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got[:serverlessDisk], want) {
		t.Fatal("the restored disk differs from the backed-up one")
	}
	// ferry verify reads the image back from its cartridge and checks it.
	var v struct {
		OK          bool   `json:"ok"`
		Bytes       int64  `json:"bytes"`
		Checksummed int    `json:"checksummed"`
		Error       string `json:"error"`
	}
	if err := json.Unmarshal([]byte(run("verify", fmt.Sprint(doc.ID), "--json")), &v); err != nil || !v.OK ||
		v.Bytes != s.ImageBytes || v.Checksummed < 2 {
		t.Fatalf("verify --json: %+v, %v", v, err)
	}
}

// runCounted runs cmd and returns its /proc/PID/io counters, read after
// it exited and before it is reaped.
func runCounted(t *testing.T, cmd *exec.Cmd) map[string]int64 {
	t.Helper()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var info unix.Siginfo
	if err := unix.Waitid(unix.P_PID, cmd.Process.Pid, &info, unix.WEXITED|unix.WNOWAIT, nil); err != nil {
		t.Fatal(err)
	}
	raw, rerr := os.ReadFile(fmt.Sprintf("/proc/%d/io", cmd.Process.Pid))
	if err := cmd.Wait(); err != nil {
		t.Fatalf("%s: %v\n%s", cmd, err, cmd.Stderr)
	}
	if rerr != nil {
		t.Fatal(rerr)
	}
	io := map[string]int64{}
	for _, line := range strings.Split(string(raw), "\n") {
		var k string
		var v int64
		if n, _ := fmt.Sscanf(line, "%s %d", &k, &v); n == 2 {
			io[strings.TrimSuffix(k, ":")] = v
		}
	}
	return io
}
