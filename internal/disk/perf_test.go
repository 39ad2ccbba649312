package disk_test

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"ferry/internal/disk"
)

// TestIscsiPerf measures libiscsi's iscsi-perf against a ferry disk: 128
// KiB sequential and 4 KiB random reads at queue depth 32 over a 256 MiB
// image full of data. It only runs when FERRY_ISCSI_PERF is set (it
// measures, it does not check), and logs the tool's summary lines.
func TestIscsiPerf(t *testing.T) {
	if os.Getenv("FERRY_ISCSI_PERF") == "" {
		t.Skip("set FERRY_ISCSI_PERF=1 to measure")
	}
	tool, err := exec.LookPath("iscsi-perf")
	if err != nil {
		t.Skip("iscsi-perf not installed")
	}
	const size = 256 << 20
	src := filepath.Join(t.TempDir(), "perf.img")
	if err := os.WriteFile(src, bytes.Repeat([]byte{0x5A}, size), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := serveDisk(t, 0, disk.Options{From: src})
	perf(t, tool, "ferry", "iscsi://"+addr+"/"+testIQN+"/0")
	if url, ok := startTgt(t, src); ok {
		perf(t, tool, "tgt", url)
	}
}

// perf runs the two workloads against url.
func perf(t *testing.T, tool, who, url string) {
	for _, c := range []struct {
		name string
		args []string
	}{
		{"seq 128 KiB qd32", []string{"-m", "32", "-b", "256", "-t", "10"}},
		{"rand 4 KiB qd32", []string{"-m", "32", "-b", "8", "-r", "-t", "10"}},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		out, _ := exec.CommandContext(ctx, tool, append(c.args, url)...).CombinedOutput()
		cancel()
		t.Logf("%s %s: %s", who, c.name, average(string(out)))
	}
}

// average returns iscsi-perf's final "iops average N (M MB/s)".
func average(out string) string {
	i := strings.LastIndex(out, "iops average")
	if i < 0 {
		return strings.TrimSpace(out)
	}
	rest := out[i:]
	if j := strings.Index(rest, ")"); j >= 0 {
		rest = rest[:j+1]
	}
	return rest
}

// startTgt serves img as LUN 1 of a tgtd of its own (its own control
// port and portal on 127.0.0.1), stopped when the test ends.
func startTgt(t *testing.T, img string) (string, bool) {
	tgtd, err := exec.LookPath("tgtd")
	if err != nil {
		t.Log("tgtd not installed: no comparison")
		return "", false
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctl := strconv.Itoa(20000 + os.Getpid()%20000)
	cmd := exec.Command(tgtd, "-f", "-C", ctl, "--iscsi", "portal="+addr)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	const iqn = "iqn.2026-11.dev.ferry:tgt-perf"
	steps := [][]string{
		{"--op", "new", "--mode", "target", "--tid", "1", "-T", iqn},
		{"--op", "new", "--mode", "logicalunit", "--tid", "1", "--lun", "1", "-b", img},
		{"--op", "bind", "--mode", "target", "--tid", "1", "-I", "ALL"},
	}
	for _, s := range steps {
		var out []byte
		for range 50 { // tgtd takes a moment to listen
			if out, err = exec.Command("tgtadm", append([]string{"-C", ctl, "--lld", "iscsi"}, s...)...).CombinedOutput(); err == nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err != nil {
			t.Logf("tgtadm %v: %v %s", s, err, out)
			return "", false
		}
	}
	return "iscsi://" + addr + "/" + iqn + "/1", true
}
