package target

import (
	"context"
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
		out, err = h.libiscsi("iscsi-inq", "-e", "1", "-c", "0x80", "iscsi://"+h.addr+"/"+testIQN+"/"+lun)
		if err != nil {
			t.Errorf("iscsi-inq VPD 0x80 LUN %s: %v\n%s", lun, err, out)
		}
	}
}
