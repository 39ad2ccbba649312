package tapeinterop

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"ferry/internal/iscsi/target"
	"ferry/internal/scsi/smc"
	"ferry/internal/scsi/ssc"
)

// TestLibiscsiTools lists a target with a changer and two tape LUNs with
// libiscsi's iscsi-ls and asks each LU with iscsi-inq: the types must be
// what the LUs are (0x08 changer, 0x01 sequential access), and the tape
// LUs' unit serial number page must name the drive.
func TestLibiscsiTools(t *testing.T) {
	for _, tool := range []string{"iscsi-ls", "iscsi-inq"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (libiscsi-bin)", tool)
		}
	}
	lib := openLib(t, 1<<30, "L")
	u := units{0: smc.New(lib, smc.Identity{})}
	for i, name := range []string{"tape0", "tape1"} {
		d := ssc.New(lib, name, ssc.Identity{})
		t.Cleanup(func() { d.Close() })
		u[uint64(i+1)] = d
	}
	tg, err := target.New(target.Config{Name: targetName, Units: u})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go tg.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		tg.Shutdown(ctx)
	})
	url := "iscsi://" + ln.Addr().String()
	out := tool(t, "iscsi-ls", "-s", url)
	for _, want := range []string{"Lun:0    Type:MEDIA_CHANGER", "Lun:1    Type:SEQUENTIAL_ACCESS", "Lun:2    Type:SEQUENTIAL_ACCESS"} {
		if !strings.Contains(out, want) {
			t.Errorf("iscsi-ls -s lacks %q:\n%s", want, out)
		}
	}
	for lun, want := range map[int]string{0: "Peripheral Device Type:MEDIA_CHANGER", 1: "Peripheral Device Type:SEQUENTIAL_ACCESS", 2: "Peripheral Device Type:SEQUENTIAL_ACCESS"} {
		out := tool(t, "iscsi-inq", fmt.Sprintf("%s/%s/%d", url, targetName, lun))
		if !strings.Contains(out, want) {
			t.Errorf("iscsi-inq LUN %d lacks %q:\n%s", lun, want, out)
		}
	}
	out = tool(t, "iscsi-inq", "-e", "1", "-c", "128", fmt.Sprintf("%s/%s/2", url, targetName))
	if !strings.Contains(out, "tape1") {
		t.Errorf("iscsi-inq unit serial number of LUN 2 lacks tape1:\n%s", out)
	}
}

// tool runs a libiscsi tool that must succeed and returns its output.
func tool(t *testing.T, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %q: %v\n%s", name, args, err, out)
	}
	return string(out)
}
