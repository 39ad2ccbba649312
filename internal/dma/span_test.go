package dma_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"ferry/internal/catalog"
	"ferry/internal/changer"
	"ferry/internal/dma"
	"ferry/internal/format"
	"ferry/internal/library"
	"ferry/internal/tape"
	"ferry/internal/testsupport/fstree"
)

// spanFixture is a library of one drive and 8 MiB cartridges, and a tree
// of about 20 MiB of incompressible data that needs three of them.
func spanFixture(t *testing.T) (*fixture, string) {
	f := newFixtureWith(t, library.Options{Drives: []string{"tape0"}, Slots: 8, ImportExport: 1,
		Capacity: 8 << 20, Prefix: "SPN", Suffix: "L8"})
	src := f.dir(t, "src")
	var spec fstree.Spec
	for i := range 40 {
		spec = append(spec, fstree.Node{Path: fmt.Sprintf("big/%02d", i), Type: format.Regular, Size: 512 << 10, Seed: uint64(i + 1)})
	}
	spec = append(spec, fstree.ManySmall(50, 1000)...)
	fstree.Build(t, src, spec)
	return f, src
}

// TestSpanning backs a tree up onto cartridges smaller than it: at the end
// of each the DMA closes the piece, the agent's changer (driven through
// NDMP SCSI) swaps in the next cartridge, which gets a label and a header,
// and the mover continues. The backup restores whole and by direct access
// from any piece, verifies, appends, restores when its cartridges are back
// in their slots, and comes back from a catalog rebuild.
func TestSpanning(t *testing.T) {
	f, src := spanFixture(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	b, err := dma.Backup(ctx, f.cat, dma.BackupSpec{Agent: f.agent, Path: src})
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Locations) < 3 {
		t.Fatalf("%d pieces, want at least 3: %+v", len(b.Locations), b.Locations)
	}
	seen := map[string]bool{}
	var end int64
	for i, l := range b.Locations {
		if l.Seq != i || l.Offset != end || l.Length <= 0 || l.Barcode == "" || seen[l.Barcode] || l.Length%int64(l.RecordSize) != 0 && i < len(b.Locations)-1 {
			t.Fatalf("piece %d: %+v (after %d bytes)", i, l, end)
		}
		seen[l.Barcode] = true
		end += l.Length
		m, err := f.cat.Medium(ctx, l.Barcode)
		if want := map[bool]catalog.MediaState{true: catalog.MediaAppend, false: catalog.MediaFull}[i == len(b.Locations)-1]; err != nil || m.State != want {
			t.Fatalf("medium %s: %+v %v, want %s", l.Barcode, m, err, want)
		}
	}
	if end != b.Bytes {
		t.Fatalf("pieces hold %d bytes, image %d", end, b.Bytes)
	}
	t.Logf("%d bytes on %d cartridges", b.Bytes, len(b.Locations))

	fstree.Compare(t, src, f.restore(t, b.ID), cmpOpts)
	if res, err := dma.Verify(ctx, f.cat, dma.VerifySpec{Agent: f.agent, BackupID: b.ID}); err != nil {
		t.Fatalf("verify: %v %+v", err, res)
	}
	// Direct access to a file in each piece: the changer loads its cartridge.
	for _, l := range b.Locations {
		ms, err := f.cat.Find(ctx, catalog.Query{Glob: "/big/*", BackupID: b.ID})
		if err != nil {
			t.Fatal(err)
		}
		i := slices.IndexFunc(ms, func(m catalog.Match) bool {
			return int64(m.FhInfo) >= l.Offset && int64(m.FhInfo) < l.Offset+l.Length
		})
		if i < 0 {
			continue
		}
		rel := ms[i].Path[1:]
		dest := filepath.Join(t.TempDir(), "one")
		res, err := dma.Restore(ctx, f.cat, dma.RestoreSpec{Agent: f.agent, BackupID: b.ID, To: dest, Paths: []string{rel}})
		if err != nil {
			t.Fatalf("restore %s from piece %d: %v", rel, l.Seq, err)
		}
		want, _ := os.ReadFile(filepath.Join(src, rel))
		got, _ := os.ReadFile(filepath.Join(dest, rel))
		if string(got) != string(want) || res.Read > 2<<20 {
			t.Fatalf("%s from piece %d: %d bytes, want %d; read %d", rel, l.Seq, len(got), len(want), res.Read)
		}
	}

	// Onto the agent, whole and one file of the last piece: the mover
	// pauses at each piece's end (or outside it) and the DMA mounts the
	// piece holding what comes next.
	onAgent := f.dir(t, "onagent")
	if _, err := dma.RestoreToAgent(ctx, f.cat, dma.AgentRestoreSpec{Agent: f.agent, BackupID: b.ID, To: onAgent}); err != nil {
		t.Fatalf("restore onto the agent: %v", err)
	}
	fstree.Compare(t, src, onAgent, cmpOpts)
	lastPiece := b.Locations[len(b.Locations)-1]
	ms, _ := f.cat.Find(ctx, catalog.Query{Glob: "/big/*", BackupID: b.ID})
	i := slices.IndexFunc(ms, func(m catalog.Match) bool { return int64(m.FhInfo) > lastPiece.Offset })
	if i < 0 {
		t.Fatal("no file in the last piece")
	}
	darDest := f.dir(t, "dar")
	if _, err := dma.RestoreToAgent(ctx, f.cat, dma.AgentRestoreSpec{Agent: f.agent, BackupID: b.ID, To: darDest, Paths: []string{ms[i].Path}}); err != nil {
		t.Fatalf("DAR onto the agent: %v", err)
	}
	want, _ := os.ReadFile(filepath.Join(src, ms[i].Path))
	if got, err := os.ReadFile(filepath.Join(darDest, ms[i].Path)); err != nil || string(got) != string(want) {
		t.Fatalf("DAR onto the agent of %s: %d bytes, %v", ms[i].Path, len(got), err)
	}

	// The next backup appends on the cartridge the full backup ended on
	// (an incremental of everything: the files are as new as the full).
	os.WriteFile(filepath.Join(src, "new"), []byte("after"), 0o644)
	b2, err := dma.Backup(ctx, f.cat, dma.BackupSpec{Agent: f.agent, Path: src, Incremental: true})
	if err != nil {
		t.Fatal(err)
	}
	last := b.Locations[len(b.Locations)-1]
	if len(b2.Locations) == 0 || b2.Locations[0].Barcode != last.Barcode || b2.Locations[0].FileNum != last.FileNum+3 {
		t.Fatalf("next backup at %+v, full ended at %+v", b2.Locations, last)
	}

	// Put the drive's cartridge back in a slot: restores load what they need.
	unload(t, f.lib)
	fstree.Compare(t, src, f.restore(t, b2.ID), cmpOpts)

	// Catalog lost: read each cartridge, the last first, into a new one.
	cat2, err := catalog.OpenSQLite(ctx, filepath.Join(t.TempDir(), "rebuilt.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer cat2.Close()
	for i := len(b.Locations) - 1; i >= 0; i-- {
		load(t, f.lib, b.Locations[i].Barcode)
		if _, err := dma.Rebuild(ctx, cat2, dma.RebuildSpec{Agent: f.agent}); err != nil {
			t.Fatalf("rebuild from %s: %v", b.Locations[i].Barcode, err)
		}
		got, err := cat2.Backup(ctx, b.ID)
		if done := got.Status == catalog.StatusSucceeded; err != nil || done != (i == 0) {
			t.Fatalf("after reading %s: backup %+v %v", b.Locations[i].Barcode, got, err)
		}
	}
	got, _ := cat2.Backup(ctx, b.ID)
	if got.Files != b.Files || len(got.Locations) != len(b.Locations) {
		t.Fatalf("rebuilt %+v, was %+v", got, b)
	}
	dest := filepath.Join(t.TempDir(), "rebuilt")
	if _, err := dma.Restore(ctx, cat2, dma.RestoreSpec{Agent: f.agent, BackupID: b.ID, To: dest}); err != nil {
		t.Fatal(err)
	}
	if d, err := fstree.Diff(src, dest, cmpOpts); err != nil || len(d) != 1 {
		t.Fatalf("restore after rebuild differs in %v (%v); want only the file added later", d, err)
	}
}

// TestSpanningNoCartridge fails a backup cleanly when the changer has
// nothing left to continue on.
func TestSpanningNoCartridge(t *testing.T) {
	f := newFixtureWith(t, library.Options{Drives: []string{"tape0"}, Slots: 0, Capacity: 4 << 20, Prefix: "ONE", Suffix: "L8"})
	src := f.dir(t, "src")
	fstree.Build(t, src, fstree.Spec{{Path: "big", Type: format.Regular, Size: 8 << 20, Seed: 7}})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b, err := dma.Backup(ctx, f.cat, dma.BackupSpec{Agent: f.agent, Path: src})
	if err == nil || !errors.Is(err, dma.ErrTapeFull) || b.Status != catalog.StatusFailed {
		t.Fatalf("backup onto a full library: %+v, %v", b, err)
	}
	t.Log(err)
}

// unload moves the cartridge in tape0 to an empty slot, or the mail slot.
func unload(t *testing.T, lib *library.Library) {
	t.Helper()
	els, _ := lib.Elements()
	var drive, slot uint16
	for _, e := range els {
		if e.Type == changer.DataTransfer && e.Full {
			drive = e.Address
		}
		if (e.Type == changer.Storage || e.Type == changer.ImportExport) && !e.Full && slot == 0 {
			slot = e.Address
		}
	}
	if drive != 0 {
		if err := lib.Move(drive, slot); err != nil {
			t.Fatal(err)
		}
	}
}

// load puts the cartridge with barcode into tape0.
func load(t *testing.T, lib *library.Library, barcode string) {
	t.Helper()
	unload(t, lib)
	els, _ := lib.Elements()
	var src, drive uint16
	for _, e := range els {
		if e.Full && e.Barcode == barcode {
			src = e.Address
		}
		if e.Type == changer.DataTransfer {
			drive = e.Address
		}
	}
	if err := lib.Move(src, drive); err != nil {
		t.Fatal(err)
	}
}

// TestForeignCartridge refuses to write on a cartridge holding data ferry
// did not write, and labels it over when told to.
func TestForeignCartridge(t *testing.T) {
	f := newFixture(t)
	src := f.dir(t, "src")
	fstree.Build(t, src, fstree.ManySmall(5, 100))
	m, err := f.lib.OpenDrive("tape0", false)
	if err != nil {
		t.Fatal(err)
	}
	if err := errors.Join(m.WriteRecord([]byte("someone else's backup")), m.WriteFilemarks(1), f.lib.CloseDrive("tape0", m)); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	b, err := dma.Backup(ctx, f.cat, dma.BackupSpec{Agent: f.agent, Path: src})
	if !errors.Is(err, dma.ErrForeignTape) || b.Status != catalog.StatusFailed {
		t.Fatalf("backup onto a foreign cartridge: %+v, %v", b, err)
	}
	b, err = dma.Backup(ctx, f.cat, dma.BackupSpec{Agent: f.agent, Path: src, OverwriteUnlabeled: true})
	if err != nil || b.Locations[0].FileNum != 2 || b.Locations[0].Barcode != f.barcode(t) {
		t.Fatalf("backup over a foreign cartridge: %+v, %v", b.Locations, err)
	}
	fstree.Compare(t, src, f.restore(t, b.ID), cmpOpts)
	// The barcode the changer reports must match the label.
	files, err := dma.ScanTape(ctx, f.agent, "tape0")
	if err != nil || files[0].Label == nil || files[0].Label.Barcode != f.barcode(t) {
		t.Fatalf("label %+v, %v", files, err)
	}
	_, err = dma.Backup(ctx, f.cat, dma.BackupSpec{Agent: f.agent, Path: src, Barcode: "OTHER1L8"})
	if !errors.Is(err, dma.ErrWrongTape) {
		t.Fatalf("backup naming another barcode: %v", err)
	}
}

// TestCancelRestore stops a running restore through the catalog, as
// ferry cancel does from another process: the job ends cancelled.
func TestCancelRestore(t *testing.T) {
	defer dma.SetCancelPoll(10 * time.Millisecond)()
	f := newFixture(t)
	big := f.dir(t, "big")
	fstree.Build(t, big, fstree.Spec{{Path: "huge", Type: format.Regular, Size: 256 << 20, Seed: 9}})
	b := f.backup(t, big, false)
	ctx := context.Background()
	done := make(chan error, 1)
	go func() {
		_, err := dma.Restore(ctx, f.cat, dma.RestoreSpec{Agent: f.agent, BackupID: b.ID, To: filepath.Join(t.TempDir(), "dest")})
		done <- err
	}()
	var job catalog.Job
	for job.ID == 0 {
		select {
		case err := <-done:
			t.Fatalf("restore ended before it was cancelled: %v", err)
		case <-time.After(5 * time.Millisecond):
		}
		jobs, _ := f.cat.Jobs(ctx, true)
		for _, j := range jobs {
			if j.Kind == "restore" {
				job = j
			}
		}
	}
	if job.BackupID != b.ID {
		t.Fatalf("restore job %+v", job)
	}
	if _, err := f.cat.RequestCancel(ctx, job.ID); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, dma.ErrCancelRequested) {
		t.Fatalf("cancelled restore: %v", err)
	}
	if j, err := f.cat.Job(ctx, job.ID); err != nil || j.State != catalog.JobCancelled {
		t.Fatalf("job after cancel: %+v %v", j, err)
	}
	// The drive is free again: a verify runs and is recorded too.
	if _, err := dma.Verify(ctx, f.cat, dma.VerifySpec{Agent: f.agent, BackupID: b.ID}); err != nil {
		t.Fatal(err)
	}
	jobs, _ := f.cat.Jobs(ctx, false)
	if last := jobs[len(jobs)-1]; last.Kind != "verify" || last.State != catalog.JobSucceeded {
		t.Fatalf("verify job %+v", last)
	}
}

// TestSpanningSkipsForeign: the cartridge spanning would take next holds
// someone else's data; it is left untouched and the next one used.
func TestSpanningSkipsForeign(t *testing.T) {
	f := newFixtureWith(t, library.Options{Drives: []string{"tape0"}, Slots: 3, Capacity: 4 << 20, Prefix: "FOR", Suffix: "L8"})
	els, _ := f.lib.Elements()
	var foreign string
	for _, e := range els {
		if e.Type == changer.Storage && e.Full && foreign == "" {
			foreign = e.Barcode
		}
	}
	path, err := f.lib.CartridgePath(foreign)
	if err != nil {
		t.Fatal(err)
	}
	m, err := tape.Open(path, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := errors.Join(m.WriteRecord([]byte("another application's label")), m.WriteFilemarks(1), m.Close()); err != nil {
		t.Fatal(err)
	}
	src := f.dir(t, "src")
	fstree.Build(t, src, fstree.Spec{{Path: "big", Type: format.Regular, Size: 6 << 20, Seed: 3}})
	ctx := context.Background()
	b, err := dma.Backup(ctx, f.cat, dma.BackupSpec{Agent: f.agent, Path: src})
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Locations) < 2 || slices.ContainsFunc(b.Locations, func(l catalog.Location) bool { return l.Barcode == foreign }) {
		t.Fatalf("pieces %+v (foreign cartridge %s)", b.Locations, foreign)
	}
	lines, _ := f.cat.JobLog(ctx, b.JobID)
	if !slices.ContainsFunc(lines, func(l catalog.LogLine) bool { return strings.Contains(l.Message, foreign+" skipped") }) {
		t.Fatalf("job log %+v says nothing of %s", lines, foreign)
	}
	fstree.Compare(t, src, f.restore(t, b.ID), cmpOpts)
	m, err = tape.Open(path, true)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	buf := make([]byte, 100)
	if n, err := m.ReadRecord(buf); err != nil || string(buf[:n]) != "another application's label" {
		t.Fatalf("foreign cartridge now reads %q, %v", buf[:n], err)
	}
}

// TestSpanningThreeWay spans a 3-way backup: the data service on one
// agent, the mover, drive and changer on another.
func TestSpanningThreeWay(t *testing.T) {
	data := newFixture(t)
	tapes := newFixtureWith(t, library.Options{Drives: []string{"tape0"}, Slots: 4, Capacity: 4 << 20, Prefix: "TWY", Suffix: "L8"})
	src := data.dir(t, "src")
	fstree.Build(t, src, fstree.Spec{{Path: "big", Type: format.Regular, Size: 7 << 20, Seed: 5}, {Path: "small", Type: format.Regular, Size: 100, Seed: 6}})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	b, err := dma.Backup(ctx, data.cat, dma.BackupSpec{Agent: data.agent, Tape: &tapes.agent, Path: src})
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Locations) < 2 {
		t.Fatalf("pieces %+v", b.Locations)
	}
	dest := filepath.Join(t.TempDir(), "dest")
	if _, err := dma.Restore(ctx, data.cat, dma.RestoreSpec{Agent: tapes.agent, BackupID: b.ID, To: dest}); err != nil {
		t.Fatal(err)
	}
	fstree.Compare(t, src, dest, cmpOpts)
}

// TestBackupSkipsFullCartridge: the drive holds a cartridge the catalog
// knows as full; the backup swaps in a usable one instead of running into
// its end.
func TestBackupSkipsFullCartridge(t *testing.T) {
	f := newFixture(t)
	src := f.dir(t, "src")
	fstree.Build(t, src, fstree.ManySmall(5, 100))
	ctx := context.Background()
	b1, err := dma.Backup(ctx, f.cat, dma.BackupSpec{Agent: f.agent, Path: src})
	if err != nil {
		t.Fatal(err)
	}
	m, err := f.cat.Medium(ctx, b1.Locations[0].Barcode)
	if err != nil {
		t.Fatal(err)
	}
	m.State = "full"
	if err := f.cat.PutMedium(ctx, m); err != nil {
		t.Fatal(err)
	}
	b2, err := dma.Backup(ctx, f.cat, dma.BackupSpec{Agent: f.agent, Path: src})
	if err != nil {
		t.Fatal(err)
	}
	if b2.Locations[0].Barcode == m.Barcode || b2.Locations[0].FileNum != 2 {
		t.Fatalf("second backup at %+v; %s is full", b2.Locations, m.Barcode)
	}
	fstree.Compare(t, src, f.restore(t, b1.ID), cmpOpts)
}

// TestConcurrentLoads runs two backups at once on two empty drives of one
// library: each waits its turn at the changer (one NDMP session holds it
// at a time) and loads a cartridge of its own.
func TestConcurrentLoads(t *testing.T) {
	f := newFixture(t)
	els, _ := f.lib.Elements()
	var mail []uint16
	for _, e := range els {
		if e.Type == changer.ImportExport && !e.Full {
			mail = append(mail, e.Address)
		}
	}
	for _, e := range els {
		if e.Type == changer.DataTransfer && (e.Drive == "tape0" || e.Drive == "tape1") {
			if err := f.lib.Move(e.Address, mail[0]); err != nil {
				t.Fatal(err)
			}
			mail = mail[1:]
		}
	}
	src := f.dir(t, "src")
	fstree.Build(t, src, fstree.ManySmall(20, 1000))
	ctx := context.Background()
	type result struct {
		b   catalog.Backup
		err error
	}
	done := make(chan result, 2)
	for _, drive := range []string{"tape0", "tape1"} {
		go func() {
			b, err := dma.Backup(ctx, f.cat, dma.BackupSpec{Agent: f.agent, Path: src, Drive: drive})
			done <- result{b, err}
		}()
	}
	r1, r2 := <-done, <-done
	if r1.err != nil || r2.err != nil {
		t.Fatalf("backups: %v; %v", r1.err, r2.err)
	}
	if r1.b.Locations[0].Barcode == r2.b.Locations[0].Barcode {
		t.Fatalf("both backups on %s", r1.b.Locations[0].Barcode)
	}
	fstree.Compare(t, src, f.restore(t, r1.b.ID), cmpOpts)
	fstree.Compare(t, src, f.restore(t, r2.b.ID), cmpOpts)
}

// TestSpanningKeepsToPool: a backup of a pool spans only onto cartridges of
// its pool or ones the catalog has not seen (which join it): cartridges of
// another pool are passed over, whatever their state.
func TestSpanningKeepsToPool(t *testing.T) {
	f, src := spanFixture(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	for _, bc := range []string{"SPN001L8", "SPN003L8"} {
		if err := f.cat.PutMedium(ctx, catalog.Medium{Barcode: bc, State: catalog.MediaScratch, Pool: "other"}); err != nil {
			t.Fatal(err)
		}
	}
	b, err := dma.Backup(ctx, f.cat, dma.BackupSpec{Agent: f.agent, Path: src, Pool: "weekly"})
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Locations) < 3 {
		t.Fatalf("%d pieces, want at least 3", len(b.Locations))
	}
	for _, l := range b.Locations {
		if l.Barcode == "SPN001L8" || l.Barcode == "SPN003L8" {
			t.Fatalf("the backup of pool weekly spanned onto %s, a cartridge of pool other: %+v", l.Barcode, b.Locations)
		}
		if m, err := f.cat.Medium(ctx, l.Barcode); err != nil || m.Pool != "weekly" {
			t.Fatalf("cartridge %s after the backup: %+v, %v; want pool weekly", l.Barcode, m, err)
		}
	}
	for _, bc := range []string{"SPN001L8", "SPN003L8"} {
		if m, _ := f.cat.Medium(ctx, bc); m.Pool != "other" || m.State != catalog.MediaScratch {
			t.Fatalf("cartridge %s of pool other changed: %+v", bc, m)
		}
	}
	fstree.Compare(t, src, f.restore(t, b.ID), cmpOpts)
}
