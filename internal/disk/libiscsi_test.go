package disk_test

import (
	"context"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"ferry/internal/disk"
	"ferry/internal/iscsi/target"
	"ferry/internal/scsi"
	"ferry/internal/scsi/sbc"
	"ferry/internal/scsi/xcopy"
	"ferry/internal/testsupport/servetest"
)

const testIQN = "iqn.2026-11.dev.ferry:disk-test"

// oneDisk is a target's unit set with one disk on LUN 0.
type oneDisk struct{ dev scsi.Device }

func (u oneDisk) LUNs() []uint64 { return []uint64{0} }

func (u oneDisk) Unit(lun uint64) (scsi.Device, bool) {
	if lun != 0 {
		return nil, false
	}
	return u.dev, true
}

// serveDisk creates a disk of size bytes, serves it on LUN 0 of a target
// on 127.0.0.1 and returns the target's address.
func serveDisk(t *testing.T, size int64, opts disk.Options) string {
	t.Helper()
	dir := t.TempDir()
	if _, err := disk.Create(dir, "testcu", size, opts); err != nil {
		t.Fatal(err)
	}
	dk, err := disk.Open(dir, "testcu")
	if err != nil {
		t.Fatal(err)
	}
	dev := sbc.New(dk, sbc.Identity{})
	// The disk is its own copy manager, as on ferry's target: the
	// session's units are this one disk.
	xcopy.New(xcopy.UnitsFunc(func(string) []scsi.Device { return []scsi.Device{dev} })).Attach(dev)
	tg, err := target.New(target.Config{Name: testIQN, Units: oneDisk{dev}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dk.Close() })
	return servetest.Start(t, tg, target.ErrClosed)
}

// selection lists the suites of the families (e.g. "SCSI,iSCSI") from
// iscsi-test-cu --list, whole where none of their tests is excluded (so
// that their tests run in libiscsi's order, which some depend on), else
// test by test without the excluded ones.
func selection(t *testing.T, tool, families string, exclude []string) string {
	out, err := exec.Command(tool, "--list").Output()
	if err != nil {
		t.Fatalf("iscsi-test-cu --list: %v", err)
	}
	var suites []string
	tests := map[string][]string{}
	for _, name := range strings.Fields(string(out)) {
		parts := strings.Split(name, ".")
		if len(parts) != 3 || !slices.Contains(strings.Split(families, ","), parts[0]) {
			continue
		}
		suite := parts[0] + "." + parts[1]
		if len(tests[suite]) == 0 {
			suites = append(suites, suite)
		}
		tests[suite] = append(tests[suite], name)
	}
	var sel []string
	for _, suite := range suites {
		kept := slices.DeleteFunc(slices.Clone(tests[suite]), func(n string) bool { return slices.Contains(exclude, n) })
		if len(kept) == len(tests[suite]) {
			sel = append(sel, suite)
			continue
		}
		sel = append(sel, kept...)
	}
	return strings.Join(sel, ",")
}

// failedTests reads CUnit's verbose output: a test's result follows its
// "Test: NAME ..." line and whatever the test logged.
func failedTests(out string) []string {
	var failed []string
	name, suite := "", ""
	re := regexp.MustCompile(`Test: (\S+) \.\.\.`)
	sre := regexp.MustCompile(`Suite: (\S+)`)
	for _, line := range strings.Split(out, "\n") {
		if m := sre.FindStringSubmatch(line); m != nil {
			suite = m[1]
		}
		if m := re.FindStringSubmatch(line); m != nil {
			name = suite + "." + m[1]
		}
		if name != "" && (strings.TrimSpace(line) == "FAILED" || strings.HasSuffix(line, "...FAILED")) {
			failed = append(failed, name)
			name = ""
		}
	}
	return failed
}

// testCu finds libiscsi's iscsi-test-cu: missing, the test is skipped, or
// fails under CI=true (scripts/test.sh installs libiscsi-bin).
func testCu(t *testing.T) string {
	t.Helper()
	tool, err := exec.LookPath("iscsi-test-cu")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("iscsi-test-cu not installed (Debian libiscsi-bin)")
		}
		t.Skip("iscsi-test-cu not installed (Debian libiscsi-bin)")
	}
	return tool
}

// TestIscsiTestCu runs libiscsi's conformance suite (Debian libiscsi-bin)
// with --dataloss against ferry disks served by ferry's target: every
// SCSI and iSCSI test on a 512-byte disk, the SCSI ones on a 4096-byte
// and a thick disk. FERRY_TESTCU_TESTS selects other tests (e.g.
// SCSI.Reserve6); FERRY_TESTCU_LOG=1 logs the full output.
func TestIscsiTestCu(t *testing.T) {
	tool := testCu(t)
	if testing.Short() {
		t.Skip("long: runs libiscsi's suite")
	}
	only := os.Getenv("FERRY_TESTCU_TESTS")
	for _, c := range []struct {
		name     string
		families string // the transport's own family runs once
		opts     disk.Options
	}{
		{"512", "SCSI,iSCSI", disk.Options{}},
		{"4096", "SCSI", disk.Options{BlockSize: 4096}},
		{"thick", "SCSI", disk.Options{Thick: true}},
	} {
		tests := only
		if tests == "" {
			tests = selection(t, tool, c.families, nil)
		}
		t.Run(c.name, func(t *testing.T) { runTestCu(t, tool, tests, c.opts) })
	}
}

// TestIscsiTestCuExtendedCopy runs libiscsi's EXTENDED COPY and RECEIVE
// COPY RESULTS suites against a ferry disk: every test must run (a test
// libiscsi skips counts as passed in CUnit's summary) and pass.
func TestIscsiTestCuExtendedCopy(t *testing.T) {
	tool := testCu(t)
	for _, suite := range []string{"SCSI.ExtendedCopy", "SCSI.ReceiveCopyResults"} {
		t.Run(suite, func(t *testing.T) {
			out := runTestCu(t, tool, suite, disk.Options{})
			if n := strings.Count(out, "[SKIPPED]"); n > 0 {
				t.Errorf("%s: [SKIPPED] printed %d times:\n%s", suite, n, out)
			}
			m := regexp.MustCompile(`tests\s+\d+\s+(\d+)\s+(\d+)\s+(\d+)`).FindStringSubmatch(out)
			if m == nil || m[1] == "0" || m[1] != m[2] || m[3] != "0" {
				t.Errorf("%s: want every test run and passed, summary %q", suite, m)
			}
		})
	}
}

// runTestCu runs the selected tests against a new 64 MiB disk and
// returns libiscsi's output.
func runTestCu(t *testing.T, tool, tests string, opts disk.Options) string {
	addr := serveDisk(t, 64<<20, opts)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	url := "iscsi://" + addr + "/" + testIQN + "/0"
	// The URL twice: the MultipathIO tests then run over two sessions.
	out, _ := exec.CommandContext(ctx, tool, "--dataloss", "--allow-sanitize", "--test="+tests, url, url).CombinedOutput()
	if os.Getenv("FERRY_TESTCU_LOG") != "" {
		t.Log(string(out))
	}
	if !strings.Contains(string(out), "Run Summary") {
		t.Fatalf("iscsi-test-cu did not finish:\n%s", out)
	}
	if failed := failedTests(string(out)); len(failed) > 0 {
		t.Errorf("iscsi-test-cu: %d failed: %v", len(failed), failed)
	}
	t.Log(summary(string(out)))
	return string(out)
}

// summary returns CUnit's run summary lines.
func summary(out string) string {
	if i := strings.Index(out, "Run Summary"); i >= 0 {
		return out[i:]
	}
	return ""
}
