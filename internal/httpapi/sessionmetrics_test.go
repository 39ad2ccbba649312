package httpapi

import (
	"bytes"
	"context"
	"fmt"
	"regexp"
	"strconv"
	"testing"
	"time"

	"ferry/internal/iscsi/initiator"
	"ferry/internal/ndmp/client"
	"ferry/internal/ndmp/wire"
)

// TestSessionMetrics: while an NDMP session writes records to tape and an
// iSCSI session writes and reads a disk LUN, /metrics shows each session's
// commands, errors, data bytes and latency histogram, and the iSCSI
// session's per-LUN figures, counting exactly the bytes moved; a session
// that ended is gone from the figures.
func TestSessionMetrics(t *testing.T) {
	tn := startNode(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	c, err := client.Dial(ctx, tn.ndmpAddr, client.Options{User: "ndmp", Password: ndmpPassword})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.TapeOpen(ctx, "tape0", wire.TapeRdwrMode); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := c.TapeWrite(ctx, bytes.Repeat([]byte{7}, 10000)); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.TapeOpen(ctx, "tape1", wire.TapeRdwrMode); err == nil {
		t.Fatal("a second TAPE_OPEN succeeded")
	}

	s, err := initiator.Dial(ctx, tn.target.Addr().String(), initiator.Config{InitiatorName: "iqn.2026-01.test:client",
		TargetName: tn.target.Name(), CHAP: &initiator.CHAP{Secret: []byte(chapSecret)}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const lun = 5 // disk d0: the first disk LUN
	data := bytes.Repeat([]byte{9}, 64<<10)
	write10 := []byte{0x2A, 0, 0, 0, 0, 0, 0, 0, 128, 0} // 128 blocks of 512 at LBA 0
	if _, err := s.Execute(ctx, lun, write10, data, 0); err != nil {
		t.Fatal(err)
	}
	read10 := []byte{0x28, 0, 0, 0, 0, 0, 0, 0, 128, 0}
	if r, err := s.Execute(ctx, lun, read10, nil, len(data)); err != nil || !bytes.Equal(r.Data, data) {
		t.Fatalf("read back: %v", err)
	}

	_, body, _ := tn.do("GET", "/metrics", tn.ro)
	m := string(body)
	value := func(re string) float64 {
		t.Helper()
		ms := regexp.MustCompile(`(?m)^` + re + ` (\S+)$`).FindStringSubmatch(m)
		if ms == nil {
			t.Fatalf("no series matching %s in:\n%s", re, grepFerry(m))
		}
		v, _ := strconv.ParseFloat(ms[1], 64)
		return v
	}
	if v := value(`ferry_session_commands_total\{peer="[^"]+",protocol="ndmp",session="ndmp-\d+"\}`); v < 5 {
		t.Errorf("NDMP commands %v, want the session's requests (at least 5)", v)
	}
	if v := value(`ferry_session_command_errors_total\{peer="[^"]+",protocol="ndmp",session="ndmp-\d+"\}`); v != 1 {
		t.Errorf("NDMP errors %v, want 1 (the second TAPE_OPEN)", v)
	}
	if v := value(`ferry_session_bytes_total\{direction="in",peer="[^"]+",protocol="ndmp",session="ndmp-\d+"\}`); v != 30000 {
		t.Errorf("NDMP bytes written to tape %v, want 30000", v)
	}
	if v := value(`ferry_session_command_duration_seconds_count\{peer="[^"]+",protocol="ndmp",session="ndmp-\d+"\}`); v < 5 {
		t.Errorf("NDMP latency histogram count %v", v)
	}
	lunLabels := fmt.Sprintf(`initiator="iqn.2026-01.test:client",lun="%d",session="iscsi-\d+"`, lun)
	if v := value(`ferry_iscsi_lun_bytes_total\{direction="in",` + lunLabels + `\}`); v != float64(len(data)) {
		t.Errorf("iSCSI bytes written to the LUN %v, want %d", v, len(data))
	}
	if v := value(`ferry_iscsi_lun_bytes_total\{direction="out",` + lunLabels + `\}`); v != float64(len(data)) {
		t.Errorf("iSCSI bytes read from the LUN %v, want %d", v, len(data))
	}
	if v := value(`ferry_iscsi_lun_command_duration_seconds_bucket\{` + lunLabels + `,le="\+Inf"\}`); v < 2 {
		t.Errorf("iSCSI LUN latency count %v", v)
	}

	c.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, body, _ = tn.do("GET", "/metrics", tn.ro)
		if !regexp.MustCompile(`protocol="ndmp"`).Match(body) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the ended NDMP session is still reported")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func grepFerry(m string) string {
	var out bytes.Buffer
	for _, l := range regexp.MustCompile(`(?m)^ferry_(session|iscsi).*$`).FindAllString(m, -1) {
		out.WriteString(l + "\n")
	}
	return out.String()
}
