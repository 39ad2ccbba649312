package httpapi

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"ferry/internal/disk"
	"ferry/internal/iscsi/initiator"
	"ferry/internal/node"
	"ferry/internal/scsi"
)

// send makes a request with a JSON body and returns the status and body.
func (tn *testNode) send(method, path, tok, body string) (int, []byte) {
	tn.t.Helper()
	req, err := http.NewRequest(method, tn.base+path, strings.NewReader(body))
	if err != nil {
		tn.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tn.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tn.t.Fatal(err)
	}
	return resp.StatusCode, b
}

// TestSnapshotService drives the snapshot routes against the node's
// target: a snapshot taken over HTTP is served as an LU whose VPD 0x83
// carries the NAA the answer gives; a host write shows in the changed
// blocks between two snapshots (and only for a read-write token); renew
// extends the lease; release drops the LU and keeps the change map;
// forget drops the record; the errors are the documented ones.
func TestSnapshotService(t *testing.T) {
	tn := startNode(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var s1 node.SnapshotInfo
	code, body := tn.send("POST", "/api/v1/disks/d0/snapshots", tn.rw, `{"name":"s1","lease_seconds":600}`)
	if code != http.StatusCreated || json.Unmarshal(body, &s1) != nil || s1.LU == nil || s1.State != disk.SnapshotActive {
		t.Fatalf("take s1: %d %s", code, body)
	}
	if time.Until(s1.Expires) < 9*time.Minute {
		t.Errorf("s1 expires %v, want in 10 minutes", s1.Expires)
	}

	sess, err := initiator.Dial(ctx, tn.target.Addr().String(), initiator.Config{TargetName: tn.target.Name()})
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	exec := func(lun uint64, cdb, out []byte, in int) *initiator.Result {
		t.Helper()
		for {
			r, err := sess.Execute(ctx, lun, cdb, out, in)
			if err != nil {
				t.Fatal(err)
			}
			if sense, _ := scsi.ParseSense(r.Sense); sense == nil || sense.Key != scsi.UnitAttention {
				if r.Status != scsi.StatusGood {
					t.Fatalf("CDB %x on LUN %d: status %#x sense %x", cdb, lun, r.Status, r.Sense)
				}
				return r
			}
		}
	}
	vpd := exec(s1.LU.LUN, []byte{0x12, 1, 0x83, 0x10, 0, 0}, nil, 4096).Data
	if naa, _ := hex.DecodeString(s1.LU.NAA); len(naa) != 8 || !bytes.Contains(vpd, naa) {
		t.Errorf("the snapshot's LU does not report NAA %s: %x", s1.LU.NAA, vpd)
	}
	// A host writes blocks 100-107 of d0 (LUN 5): chunks 12 and 13.
	exec(5, []byte{0x2A, 0, 0, 0, 0, 100, 0, 0, 8, 0}, bytes.Repeat([]byte{7}, 8*512), 0)
	if code, body := tn.send("POST", "/api/v1/disks/d0/snapshots", tn.rw, `{"name":"s2"}`); code != http.StatusCreated {
		t.Fatalf("take s2: %d %s", code, body)
	}
	var ch Changes
	tn.get("/api/v1/disks/d0/changes?from=s1&to=s2", tn.rw, &ch)
	if want := []disk.Extent{{LBA: 96, Blocks: 16}}; !slices.Equal(ch.Extents, want) {
		t.Errorf("changes s1..s2 = %+v, want %+v", ch.Extents, want)
	}
	tn.get("/api/v1/disks/d0/changes?from=s2", tn.rw, &ch)
	if len(ch.Extents) != 0 || ch.Extents == nil {
		t.Errorf("changes since s2 = %#v, want an empty list", ch.Extents)
	}
	for p, want := range map[string]int{
		"/api/v1/disks/d0/changes?from=s1":     http.StatusForbidden, // read-only token
		"/api/v1/disks/nodisk/snapshots":       http.StatusNotFound,
		"/api/v1/disks/d0/snapshots/zz/renew":  http.StatusNotFound,
		"/api/v1/disks/d0/snapshots/s1?x=1":    http.StatusMethodNotAllowed, // one snapshot: DELETE only
		"/api/v1/disks/d0/changes?from=s1&to=": http.StatusForbidden,
	} {
		method := "GET"
		if strings.HasSuffix(p, "/renew") {
			method = "POST"
		}
		tok := tn.ro
		if method == "POST" || strings.Contains(p, "nodisk") {
			tok = tn.rw
		}
		if code, body := tn.send(method, p, tok, ""); code != want {
			t.Errorf("%s %s: %d %s, want %d", method, p, code, body, want)
		}
	}
	for _, c := range []struct{ method, path, body, code string }{
		{"GET", "/api/v1/disks/d0/changes", "", "bad_request"},
		{"GET", "/api/v1/disks/d0/changes?from=nope", "", "not_found"},
		{"POST", "/api/v1/disks/d0/snapshots", `{"name":"s1"}`, "conflict"},
		{"POST", "/api/v1/disks/d0/snapshots", `{"name":"../x"}`, "bad_request"},
		{"POST", "/api/v1/disks/d0/snapshots", `{"lease":"1h"}`, "bad_request"},
		{"POST", "/api/v1/disks/d0/snapshots", `{"lease_seconds":-1}`, "bad_request"},
		{"DELETE", "/api/v1/disks/d0/snapshots/s1?forget=maybe", "", "bad_request"},
	} {
		code, body := tn.send(c.method, c.path, tn.rw, c.body)
		if got := errorCode(t, body); got != c.code {
			t.Errorf("%s %s %s: %d %s, want %s", c.method, c.path, c.body, code, body, c.code)
		}
	}

	var renewed node.SnapshotInfo
	code, body = tn.send("POST", "/api/v1/disks/d0/snapshots/s1/renew", tn.rw, `{"lease_seconds":7200}`)
	if code != http.StatusOK || json.Unmarshal(body, &renewed) != nil || time.Until(renewed.Expires) < 119*time.Minute {
		t.Fatalf("renew s1: %d %s", code, body)
	}
	if code, body := tn.send("DELETE", "/api/v1/disks/d0/snapshots/s1", tn.rw, ""); code != http.StatusNoContent {
		t.Fatalf("release s1: %d %s", code, body)
	}
	var list []node.SnapshotInfo
	tn.get("/api/v1/disks/d0/snapshots", tn.ro, &list)
	if len(list) != 2 || list[0].Name != "s1" || list[0].State != disk.SnapshotReleased || list[0].LU != nil || list[1].LU == nil {
		t.Fatalf("after release: %+v", list)
	}
	tn.get("/api/v1/disks/d0/changes?from=s1&to=s2", tn.rw, &ch) // the change map stays
	if len(ch.Extents) != 1 {
		t.Errorf("changes s1..s2 after release = %+v", ch.Extents)
	}
	if code, body := tn.send("POST", "/api/v1/disks/d0/snapshots/s1/renew", tn.rw, ""); code != http.StatusConflict {
		t.Errorf("renew a released snapshot: %d %s", code, body)
	}
	if code, body := tn.send("DELETE", "/api/v1/disks/d0/snapshots/s2?forget=1", tn.rw, ""); code != http.StatusNoContent {
		t.Fatalf("forget s2: %d %s", code, body)
	}
	tn.get("/api/v1/disks/d0/snapshots", tn.ro, &list)
	if len(list) != 1 || list[0].Name != "s1" {
		t.Fatalf("after forget: %+v", list)
	}
}
