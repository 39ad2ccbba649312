package httpapi

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"ferry/internal/catalog"
)

// TestMetrics: /metrics, scraped with a read-only token, shows the jobs
// by kind and state, the bytes and files per job kind, the last
// successful backup per source, cartridges by state and drive status, as
// the catalog and library hold them at scrape time.
func TestMetrics(t *testing.T) {
	tn := startNode(t)
	code, body, hdr := tn.do("GET", "/metrics", tn.ro)
	if code != http.StatusOK || !strings.HasPrefix(hdr.Get("Content-Type"), "text/plain") {
		t.Fatalf("/metrics: %d %s", code, hdr.Get("Content-Type"))
	}
	text := string(body)
	for _, want := range []string{
		`ferry_jobs{kind="backup",state="succeeded"} 1`,
		`ferry_jobs{kind="restore",state="running"} 1`,
		`ferry_job_bytes_total{kind="backup"} 4115`,
		`ferry_job_files_total{kind="backup"} 5`,
		`ferry_cartridges{state="append"} 1`,
		`ferry_cartridges{state="full"} 0`,
		`ferry_drive_loaded{drive="tape0",library="changer0"} 1`,
		`# TYPE ferry_job_bytes_total counter`,
	} {
		if !strings.Contains(text, want+"\n") {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	const lastSuccess = `ferry_backup_last_success_timestamp_seconds{source="filer:/src"}`
	if v, ok := metricValue(text, lastSuccess); !ok || v != float64(tn.ended.Unix()) {
		t.Errorf("%s = %v (%v), want %d", lastSuccess, v, ok, tn.ended.Unix())
	}

	// A newer success of the same source moves its time; a failed one
	// does not.
	ctx := t.Context()
	for _, st := range []string{catalog.StatusWarnings, catalog.StatusFailed} {
		b := catalog.Backup{Agent: "filer", Path: "/src", Started: tn.ended}
		id, err := tn.cat.CreateBackup(ctx, &b)
		if err != nil {
			t.Fatal(err)
		}
		end := tn.ended.Add(time.Hour)
		if st == catalog.StatusFailed {
			end = end.Add(time.Hour)
		}
		if err := tn.cat.FinishBackup(ctx, id, catalog.BackupResult{Status: st, Ended: end}); err != nil {
			t.Fatal(err)
		}
	}
	_, body, _ = tn.do("GET", "/metrics", tn.ro)
	if v, _ := metricValue(string(body), lastSuccess); v != float64(tn.ended.Add(time.Hour).Unix()) {
		t.Errorf("after a newer success with warnings and a later failure, %s = %v, want %d", lastSuccess, v, tn.ended.Add(time.Hour).Unix())
	}
}

// metricValue is the value of one series in the text format.
func metricValue(text, series string) (float64, bool) {
	for _, line := range strings.Split(text, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			return f, err == nil
		}
	}
	return 0, false
}

// TestMetricsFailLoudly: a scrape that cannot read the catalog fails
// instead of answering with part of the figures.
func TestMetricsFailLoudly(t *testing.T) {
	tn := startNode(t)
	tn.cat.Close()
	code, _, _ := tn.do("GET", "/metrics", tn.ro)
	if code != http.StatusInternalServerError {
		t.Fatalf("/metrics over a closed catalog: %d, want 500", code)
	}
}
