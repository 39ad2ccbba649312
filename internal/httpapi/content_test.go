package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"ferry/internal/catalog"
	"ferry/internal/disk"
	"ferry/internal/node"
	"ferry/internal/view"
)

// TestOpenAPIMatchesRoutes: the OpenAPI document the server serves lists
// exactly the routes the mux serves (method and path), and each of them
// answers on the running server rather than falling through to no_route.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	tn := startNode(t)
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	tn.get("/api/v1/openapi.json", tn.ro, &doc)
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi = %q", doc.OpenAPI)
	}
	var documented, served []string
	for p, ops := range doc.Paths {
		for m := range ops {
			if m != "parameters" {
				documented = append(documented, strings.ToUpper(m)+" "+p)
			}
		}
	}
	for _, rt := range routes {
		served = append(served, rt.method+" "+rt.path)
		code, body, _ := tn.do(rt.method, tn.concrete(rt.path), tn.rw)
		if code == http.StatusNotFound && errorCode(t, body) == "no_route" {
			t.Errorf("%s %s is in the table but not served", rt.method, rt.path)
		}
	}
	sort.Strings(documented)
	sort.Strings(served)
	if !slices.Equal(documented, served) {
		t.Fatalf("OpenAPI document and routes differ:\ndocumented %v\nserved     %v", documented, served)
	}
}

// TestReads: what the API answers is what the catalog, the library, the
// disks and the target state hold.
func TestReads(t *testing.T) {
	tn := startNode(t)
	var agents []view.Agent
	tn.get("/api/v1/agents", tn.ro, &agents)
	if len(agents) != 1 || agents[0].Name != "filer" || agents[0].URL != "ndmp://ndmp@127.0.0.1:10000" {
		t.Errorf("agents = %+v", agents)
	}
	var libs []view.Library
	tn.get("/api/v1/libraries", tn.ro, &libs)
	if len(libs) != 1 || libs[0].Name != "changer0" || len(libs[0].Drives) != 4 || len(libs[0].Slots) != 24 ||
		len(libs[0].MailSlots) != 2 || libs[0].Drives[0].Drive != "tape0" || !libs[0].Drives[0].Full {
		t.Errorf("libraries = %+v", libs)
	}
	var media []view.Medium
	tn.get("/api/v1/media", tn.ro, &media)
	if len(media) != 1 || media[0].State != "append" || !slices.Equal(media[0].Backups, []int64{tn.backupID}) {
		t.Errorf("media = %+v", media)
	}
	var tgt view.Target
	tn.get("/api/v1/target", tn.ro, &tgt)
	st, _ := node.LoadTargetState(tn.layout)
	if tgt.Name != st.Name || !tgt.Serving || len(tgt.ACL) != 1 || !tgt.ACL[0].CHAP || !slices.Equal(tgt.ACL[0].Disks, []string{"d0"}) {
		t.Errorf("target = %+v", tgt)
	}
	var b view.Backup
	tn.get(fmt.Sprintf("/api/v1/backups/%d", tn.backupID), tn.ro, &b)
	if b.Status != catalog.StatusSucceeded || b.Bytes != 4115 || len(b.Locations) != 1 || b.Locations[0].Barcode != "FRY001L8" {
		t.Errorf("backup = %+v", b)
	}
	var files []view.File
	tn.get(fmt.Sprintf("/api/v1/backups/%d/files?dir=docs", tn.backupID), tn.ro, &files)
	if names := paths(files); !slices.Equal(names, []string{"/docs/notes.txt", "/docs/report-2026.pdf"}) {
		t.Errorf("browse /docs = %v", names)
	}
	tn.get(fmt.Sprintf("/api/v1/backups/%d/files", tn.backupID), tn.ro, &files)
	if names := paths(files); !slices.Equal(names, []string{"/docs", "/top.txt"}) {
		t.Errorf("browse / = %v", names)
	}
	tn.get(fmt.Sprintf("/api/v1/backups/%d/files?glob=*.txt", tn.backupID), tn.ro, &files)
	if names := paths(files); !slices.Equal(names, []string{"/docs/notes.txt", "/top.txt"}) {
		t.Errorf("search *.txt = %v", names)
	}
	tn.get("/api/v1/files?glob=*/report-*&limit=5", tn.ro, &files)
	if len(files) != 1 || files[0].Path != "/docs/report-2026.pdf" || files[0].Backup != tn.backupID || files[0].Type != "file" {
		t.Errorf("search across backups = %+v", files)
	}
	var jobs []view.Job
	tn.get("/api/v1/jobs?active=true", tn.ro, &jobs)
	if len(jobs) != 1 || jobs[0].Kind != "restore" {
		t.Errorf("active jobs = %+v", jobs)
	}
	var jl view.JobLog
	tn.get(fmt.Sprintf("/api/v1/jobs/%d", tn.jobID), tn.ro, &jl)
	if jl.State != catalog.JobSucceeded || jl.BackupID != tn.backupID || len(jl.Log) != 1 || jl.Log[0].Level != "warning" {
		t.Errorf("job = %+v", jl)
	}
}

func paths(fs []view.File) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Path)
	}
	return out
}

// TestBackupPages: backups come newest first, limit at a time, and
// following next_before visits each exactly once.
func TestBackupPages(t *testing.T) {
	tn := startNode(t)
	ctx := t.Context()
	want := []int64{tn.backupID}
	for i := 0; i < 6; i++ {
		b := catalog.Backup{Agent: "filer", Path: fmt.Sprintf("/p%d", i), Started: time.Now()}
		id, err := tn.cat.CreateBackup(ctx, &b)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, id)
	}
	slices.Reverse(want)
	var got []int64
	next := "/api/v1/backups?limit=3"
	for pages := 0; next != ""; pages++ {
		if pages > 5 {
			t.Fatal("paging does not end")
		}
		var page view.BackupPage
		tn.get(next, tn.ro, &page)
		for _, b := range page.Backups {
			got = append(got, b.ID)
		}
		next = ""
		if page.NextBefore != 0 {
			next = fmt.Sprintf("/api/v1/backups?limit=3&before=%d", page.NextBefore)
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("pages gave %v, want %v", got, want)
	}
	var page view.BackupPage
	tn.get("/api/v1/backups?path=/p2", tn.ro, &page)
	if len(page.Backups) != 1 || page.Backups[0].Path != "/p2" || page.NextBefore != 0 {
		t.Fatalf("filtered = %+v", page)
	}
}

// TestCLIChangesShowAtOnce: a disk created in the state directory (as
// `ferry disk create` does) and an ACL entry added (as `ferry target
// allow` does) while the node runs show in the API's next answer; a disk
// removed goes.
func TestCLIChangesShowAtOnce(t *testing.T) {
	tn := startNode(t)
	if _, err := disk.Create(tn.layout.Disks(), "fresh", 2<<20, disk.Options{}); err != nil {
		t.Fatal(err)
	}
	var d view.Disk
	tn.get("/api/v1/disks/fresh", tn.ro, &d)
	if d.Size != 2<<20 || d.NAA == "" {
		t.Errorf("new disk = %+v", d)
	}
	st, _ := node.LoadTargetState(tn.layout)
	st.ACL = append(st.ACL, node.ACLEntry{Initiator: "iqn.2026-01.test:second"})
	if err := st.Save(tn.layout); err != nil {
		t.Fatal(err)
	}
	var tgt view.Target
	tn.get("/api/v1/target", tn.ro, &tgt)
	if len(tgt.ACL) != 2 || tgt.ACL[1].Initiator != "iqn.2026-01.test:second" || tgt.ACL[1].CHAP {
		t.Errorf("target after allow = %+v", tgt)
	}
	if err := disk.Remove(tn.layout.Disks(), "fresh"); err != nil {
		t.Fatal(err)
	}
	if code, body, _ := tn.do("GET", "/api/v1/disks/fresh", tn.ro); code != http.StatusNotFound {
		t.Errorf("removed disk: %d %s", code, body)
	}
}

// TestBrokenDiskIsNotHidden: a disk description that does not parse
// fails the disks list instead of leaving that disk out unsaid.
func TestBrokenDiskIsNotHidden(t *testing.T) {
	tn := startNode(t)
	if err := os.WriteFile(tn.layout.Disks()+"/bad.json", []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, body, _ := tn.do("GET", "/api/v1/disks", tn.ro); code != http.StatusInternalServerError || errorCode(t, body) != "internal" {
		t.Fatalf("disks with a broken description: %d %s", code, body)
	}
	if !strings.Contains(tn.log.String(), "bad") {
		t.Fatalf("the log does not say which description failed:\n%s", tn.log)
	}
}
