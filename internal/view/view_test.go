package view

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"ferry/internal/catalog"
)

// TestFieldNames pins the JSON field names scripts read: a rename fails
// here; a field added is added to the list.
func TestFieldNames(t *testing.T) {
	at := time.Unix(1_800_000_000, 0).UTC()
	b := catalog.Backup{ID: 2, Agent: "local", Path: "/src", Level: 1, BaseID: 1, Status: catalog.StatusWarnings,
		Started: at, Ended: at, Files: 3, Bytes: 4, DumpDate: "d", Error: "e", Env: []catalog.Env{{Name: "A", Value: "B"}},
		Locations: []catalog.Location{{Barcode: "X", FileNum: 2, RecordSize: 512, Length: 9}}}
	bv := BackupOf(b)
	bv.Warnings = []string{"w"}
	j := JobOf(catalog.Job{ID: 1, Kind: "backup", State: catalog.JobRunning, PID: 7, Started: at, Ended: at, BackupID: 2, Error: "e"})
	for _, c := range []struct {
		v    any
		keys []string
	}{
		{bv, []string{"agent", "base_id", "bytes", "dump_date", "ended", "env", "error", "files", "id", "level", "locations", "path", "started", "status", "warnings"}},
		{bv.Locations[0], []string{"barcode", "file", "length", "offset", "record_size"}},
		{j, []string{"backup_id", "ended", "error", "id", "kind", "pid", "started", "state"}},
		{FileOf(2, catalog.File{Path: "/a", Type: catalog.TypeReg}), []string{"backup", "gid", "mode", "mtime", "path", "size", "type", "uid"}},
		{AgentOf(catalog.Agent{Name: "n"}), []string{"created", "name", "url"}},
		{Token{}, []string{"created", "name", "read_only"}},
		{LibraryOf("changer0", nil), []string{"drives", "mail_slots", "name", "slots"}},
		{Disk{}, []string{"block_size", "created", "image", "index", "naa", "name", "size", "thin"}},
		{Target{Address: "a"}, []string{"acl", "address", "name", "serving"}},
		{TargetAllow{}, []string{"chap", "disks", "initiator", "libraries"}},
		{JobLog{Job: j}, []string{"backup_id", "ended", "error", "id", "kind", "log", "pid", "started", "state"}},
		{BackupPage{NextBefore: 1}, []string{"backups", "next_before"}},
		{Error{}, []string{"code", "message"}},
		{Verify{Error: "e"}, []string{"backup", "bytes", "checksummed", "differences", "entries", "error", "mismatches", "ok", "read"}},
		{MediumOf(catalog.Medium{Barcode: "X"}, []catalog.Location{{BackupID: 2}, {BackupID: 2}}), []string{"backups", "barcode", "library", "next_file", "pool", "state", "updated", "used"}},
	} {
		raw, err := json.Marshal(c.v)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		json.Unmarshal(raw, &m)
		var keys []string
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		if !slices.Equal(keys, c.keys) {
			t.Errorf("%T: fields %v, want %v", c.v, keys, c.keys)
		}
	}
}
