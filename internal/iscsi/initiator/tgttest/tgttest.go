// Package tgttest runs tgt (the Linux SCSI target framework's tgtd), a
// reference iSCSI target, as a peer for tests: a private tgtd on its own
// loopback portal and control port, with file-backed disk LUs.
//
// tgt is a Debian package scripts/test.sh installs. Where tgtd cannot
// run (not installed, not root) the test is skipped, unless CI=true: then
// it fails, so that a CI run never passes by skipping its peer.
package tgttest

import (
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"
)

// IQN is the name of the target Start makes.
const IQN = "iqn.2026-01.dev.ferry:tgt-peer"

// Unavailable skips the test, or fails it under CI=true.
func Unavailable(t testing.TB, why string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("tgt peer needed (CI=true): %s", why)
	}
	t.Skip(why)
}

// Start runs a private tgtd serving target IQN with one disk LU per
// backing file (LUN 1, 2, ...), open to every initiator, and returns its
// portal address. The files must exist; their size is the LU's. tgtd is
// stopped when the test ends.
func Start(t testing.TB, backing ...string) string {
	t.Helper()
	if _, err := exec.LookPath("tgtd"); err != nil {
		Unavailable(t, "tgtd not installed (Debian package tgt)")
	}
	if os.Geteuid() != 0 {
		Unavailable(t, "tgtd needs root")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctl := strconv.Itoa(10000 + (os.Getpid()*7+int(time.Now().UnixNano()))%20000) // tgtadm takes at most 32767
	cmd := exec.Command("tgtd", "-f", "-C", ctl, "--iscsi", "portal="+addr)
	if err := cmd.Start(); err != nil {
		Unavailable(t, "tgtd: "+err.Error())
	}
	t.Cleanup(func() {
		exec.Command("tgtadm", "-C", ctl, "--lld", "iscsi", "--op", "delete", "--mode", "target", "--tid", "1", "--force").Run()
		exec.Command("tgtadm", "-C", ctl, "--op", "delete", "--mode", "system").Run()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill() // tgtd ignores SIGTERM while it serves a target
			<-done
		}
	})
	adm := func(args ...string) {
		var err error
		var out []byte
		for range 50 { // tgtd needs a moment before its control port answers
			if out, err = exec.Command("tgtadm", append([]string{"-C", ctl, "--lld", "iscsi"}, args...)...).CombinedOutput(); err == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Fatalf("tgtadm %v: %v: %s", args, err, out)
	}
	adm("--op", "new", "--mode", "target", "--tid", "1", "-T", IQN)
	for i, path := range backing {
		adm("--op", "new", "--mode", "logicalunit", "--tid", "1", "--lun", strconv.Itoa(i+1), "-b", path)
	}
	adm("--op", "bind", "--mode", "target", "--tid", "1", "-I", "ALL")
	return addr
}
