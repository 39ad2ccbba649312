package target

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// libiscsi runs one of libiscsi's tools (Debian libiscsi-bin) against the
// harness and returns its output; the test is skipped when the tool is
// not installed.
func (h *harness) libiscsi(tool string, args ...string) (string, error) {
	h.t.Helper()
	path, err := exec.LookPath(tool)
	if err != nil {
		h.t.Skipf("%s not installed", tool)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, args...).CombinedOutput()
	return string(out), err
}

func TestIscsiLs(t *testing.T) {
	h := start(t, nil)
	out, err := h.libiscsi("iscsi-ls", "-s", "iscsi://"+h.addr)
	if err != nil {
		t.Fatalf("iscsi-ls: %v\n%s", err, out)
	}
	t.Logf("iscsi-ls -s:\n%s", out)
	for _, want := range []string{"Target:" + testIQN, "Lun:0", "Type:MEDIA_CHANGER", "Lun:1", "Type:SEQUENTIAL_ACCESS", "Lun:5", "Type:DIRECT_ACCESS"} {
		if !strings.Contains(strings.ReplaceAll(out, " ", ""), strings.ReplaceAll(want, " ", "")) {
			t.Errorf("iscsi-ls output lacks %q", want)
		}
	}
}

func TestIscsiInq(t *testing.T) {
	h := start(t, nil)
	for _, lun := range []string{"0", "1", "5"} {
		out, err := h.libiscsi("iscsi-inq", "iscsi://"+h.addr+"/"+testIQN+"/"+lun)
		if err != nil {
			t.Fatalf("iscsi-inq LUN %s: %v\n%s", lun, err, out)
		}
		if !strings.Contains(out, "FERRY") {
			t.Errorf("iscsi-inq LUN %s:\n%s", lun, out)
		}
		out, err = h.libiscsi("iscsi-inq", "-e", "1", "-c", "128", "iscsi://"+h.addr+"/"+testIQN+"/"+lun)
		if err != nil || !strings.Contains(out, "Unit Serial Number") {
			t.Errorf("iscsi-inq VPD 0x80 LUN %s: %v\n%s", lun, err, out)
		}
	}
}

// libiscsiEnv runs a libiscsi tool with extra environment variables.
func (h *harness) libiscsiEnv(env []string, tool string, args ...string) (string, error) {
	h.t.Helper()
	path, err := exec.LookPath(tool)
	if err != nil {
		h.t.Skipf("%s not installed", tool)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestLibiscsiHeaderDigest reads INQUIRY with CRC32C header digests: the
// digest bytes and order match libiscsi's.
func TestLibiscsiHeaderDigest(t *testing.T) {
	h := start(t, nil)
	out, err := h.libiscsi("iscsi-inq", "iscsi://"+h.addr+"/"+testIQN+"/5?header_digest=crc32c")
	if err != nil || !strings.Contains(out, "FERRY") {
		t.Fatalf("iscsi-inq with header digest: %v\n%s", err, out)
	}
}

// TestLibiscsiCHAP logs libiscsi in with one-way and mutual CHAP, and
// checks that a wrong secret gets nothing.
func TestLibiscsiCHAP(t *testing.T) {
	const name = "iqn.2026-01.dev.ferry:libiscsi"
	h := start(t, func(c *Config) {
		c.ACL = []Initiator{{Name: name, Secret: []byte("libiscsi-secret"), TargetSecret: []byte("target-secret-x")}}
	})
	url := "iscsi://" + h.addr + "/" + testIQN + "/5"
	good := []string{"LIBISCSI_CHAP_USERNAME=" + name, "LIBISCSI_CHAP_PASSWORD=libiscsi-secret"}
	if out, err := h.libiscsiEnv(good, "iscsi-inq", "-i", name, url); err != nil || !strings.Contains(out, "FERRY") {
		t.Errorf("one-way CHAP: %v\n%s", err, out)
	}
	mutual := append(good, "LIBISCSI_CHAP_TARGET_USERNAME="+testIQN, "LIBISCSI_CHAP_TARGET_PASSWORD=target-secret-x")
	if out, err := h.libiscsiEnv(mutual, "iscsi-inq", "-i", name, url); err != nil || !strings.Contains(out, "FERRY") {
		t.Errorf("mutual CHAP: %v\n%s", err, out)
	}
	bad := []string{"LIBISCSI_CHAP_USERNAME=" + name, "LIBISCSI_CHAP_PASSWORD=wrong-secret-123"}
	if out, err := h.libiscsiEnv(bad, "iscsi-inq", "-i", name, url); err == nil || strings.Contains(out, "FERRY") {
		t.Errorf("wrong secret logged in:\n%s", out)
	}
	if out, err := h.libiscsiEnv(nil, "iscsi-inq", "-i", name, url); err == nil || strings.Contains(out, "FERRY") {
		t.Errorf("no CHAP logged in:\n%s", out)
	}
}
