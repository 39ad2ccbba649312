package target

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// runTestCU runs libiscsi's iscsi-test-cu with the given test selection on
// LUN lun and returns the names of the failed tests.
func (h *harness) runTestCU(lun, tests string) ([]string, string) {
	h.t.Helper()
	url := "iscsi://" + h.addr + "/" + testIQN + "/" + lun // lun may carry URL arguments
	out, _ := h.libiscsi("iscsi-test-cu", "--dataloss", "--test="+tests, url)
	return failedTests(out), out
}

// failedTests reads CUnit's output: the result of a test follows its
// "Test: NAME ..." line, after any log lines the test printed.
func failedTests(out string) []string {
	var failed []string
	name := ""
	re := regexp.MustCompile(`Test: (\S+) \.\.\.`)
	for _, line := range strings.Split(out, "\n") {
		if m := re.FindStringSubmatch(line); m != nil {
			name = m[1]
		}
		if name != "" && (strings.TrimSpace(line) == "FAILED" || strings.HasSuffix(line, "...FAILED")) {
			failed = append(failed, name)
			name = ""
		}
	}
	return failed
}

// TestIscsiTestCuISCSI runs libiscsi's iSCSI family (CmdSN, DataSN,
// residuals, TMF) against the SBC disk with CRC32C header digests on.
func TestIscsiTestCuISCSI(t *testing.T) {
	h := start(t, nil)
	failed, out := h.runTestCU("5?header_digest=crc32c", "iSCSI")
	if os.Getenv("FERRY_TESTCU_LOG") != "" {
		t.Log(out)
	}
	if len(failed) > 0 || !strings.Contains(out, "Run Summary") {
		t.Errorf("iscsi-test-cu failures: %v\n%s", failed, out)
	}
}
