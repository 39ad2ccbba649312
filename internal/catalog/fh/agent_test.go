package fh_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"ferry/internal/catalog"
	"ferry/internal/catalog/fh"
	"ferry/internal/ndmp/client"
	"ferry/internal/ndmp/wire"
	"ferry/internal/testsupport/ndmptest"
)

// agent runs ferry's NDMP agent with the tar engine over a fresh
// library and returns its address and export directory.
func agent(t testing.TB) (addr, export string) {
	t.Helper()
	a := ndmptest.Start(t, ndmptest.Options{})
	return a.Addr, a.Export
}

// makeTree writes dirs*files small files under root and returns their
// paths relative to root.
func makeTree(t testing.TB, root string, dirs, files int) []string {
	var rel []string
	for d := range dirs {
		dir := filepath.Join(root, fmt.Sprintf("d%02d", d))
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for f := range files {
			name := filepath.Join(dir, fmt.Sprintf("f%03d.txt", f))
			if err := os.WriteFile(name, []byte(name), 0o644); err != nil {
				t.Fatal(err)
			}
			r, _ := filepath.Rel(root, name)
			rel = append(rel, r)
		}
	}
	return rel
}

// halts collects the HALTED posts of a connection and feeds file
// history to a Recorder.
type halts struct {
	rec   *fh.Recorder
	mu    sync.Mutex
	err   error
	data  chan wire.DataHaltReason
	mover chan wire.MoverHaltReason
}

func (h *halts) post(p client.Post) {
	switch b := p.Body.(type) {
	case *wire.NotifyDataHalted:
		h.data <- b.Reason
	case *wire.NotifyMoverHalted:
		h.mover <- b.Reason
	default:
		if err := h.rec.Post(p.Body); err != nil {
			h.mu.Lock()
			h.err = err
			h.mu.Unlock()
		}
	}
}

// TestLocalBackupHistory runs a two-way backup on ferry's agent through
// the client, with file history (path and node based) going through a
// Recorder into a SQLite catalog, and checks the catalog against the tree.
func TestLocalBackupHistory(t *testing.T) {
	addr, export := agent(t)
	rel := makeTree(t, export, 5, 40)
	for _, hist := range []string{"y", "d"} {
		t.Run("HIST="+hist, func(t *testing.T) {
			cat, err := catalog.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "catalog.db"))
			if err != nil {
				t.Fatal(err)
			}
			defer cat.Close()
			id := localBackup(t, addr, export, hist, cat)
			ms, err := cat.Find(context.Background(), catalog.Query{Glob: "*/f01?.txt", BackupID: id})
			if err != nil {
				t.Fatal(err)
			}
			if len(ms) != 5*10 {
				t.Fatalf("find */f01?.txt: %d matches, want 50", len(ms))
			}
			var got []string
			all, err := cat.Find(context.Background(), catalog.Query{Glob: "*.txt", BackupID: id})
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range all {
				got = append(got, m.Path)
			}
			var want []string
			prefix := all[0].Path[:len(all[0].Path)-len(rel[0])]
			for _, r := range rel {
				want = append(want, prefix+filepath.ToSlash(r))
			}
			if !slices.Equal(got, want) {
				t.Fatalf("catalogued %d files (first %q), want %d (first %q)", len(got), got[0], len(want), want[0])
			}
			ls, err := cat.List(context.Background(), id, prefix+"d03")
			if err != nil || len(ls) != 40 || ls[0].Size == 0 || ls[0].Type != catalog.TypeReg {
				t.Fatalf("ls d03: %d entries %+v, %v", len(ls), ls, err)
			}
			t.Logf("HIST=%s: paths look like %q", hist, all[0].Path)
		})
	}
}

// localBackup is the job a DMA runs for a two-way backup.
func localBackup(t testing.TB, addr, export, hist string, cat catalog.Catalog) int64 {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	b := &catalog.Backup{Agent: addr, Path: export, Butype: "tar"}
	if _, err := cat.CreateBackup(ctx, b); err != nil {
		t.Fatal(err)
	}
	in := cat.Ingest(ctx, b.ID, catalog.IngestOptions{})
	gotEnv := runBackup(t, ctx, addr, export, hist, in)
	if err := in.Close(); err != nil {
		t.Fatalf("ingest: %v", err)
	}
	var res catalog.BackupResult
	res.Status, res.Files = catalog.StatusSucceeded, in.Count()
	for _, p := range gotEnv {
		res.Env = append(res.Env, catalog.Env{Name: p.Name, Value: p.Value})
		if p.Name == "DUMP_DATE" {
			res.DumpDate = p.Value
		}
	}
	if err := cat.FinishBackup(ctx, b.ID, res); err != nil {
		t.Fatal(err)
	}
	return b.ID
}

// runBackup runs the NDMP side of a two-way backup of export, feeding
// its file history to out, and returns the agent's environment.
func runBackup(t testing.TB, ctx context.Context, addr, export, hist string, out fh.Adder) []wire.PVal {
	h := &halts{rec: fh.New(out), data: make(chan wire.DataHaltReason, 1), mover: make(chan wire.MoverHaltReason, 1)}
	c, err := client.Dial(ctx, addr, client.Options{User: ndmptest.User, Password: ndmptest.Password, Posts: h.post})
	if err != nil {
		t.Fatal(err)
	}
	step := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	step("TAPE_OPEN", c.TapeOpen(ctx, "tape0", wire.TapeRdwrMode))
	step("MOVER_SET_RECORD_SIZE", c.MoverSetRecordSize(ctx, 256<<10))
	step("MOVER_SET_WINDOW", c.MoverSetWindow(ctx, 0, wire.LengthInfinity))
	a, err := c.MoverListen(ctx, wire.MoverModeRead, wire.AddrLocal)
	step("MOVER_LISTEN", err)
	step("DATA_CONNECT", c.DataConnect(ctx, a))
	env := []wire.PVal{{Name: "FILESYSTEM", Value: export}, {Name: "HIST", Value: hist}, {Name: "LEVEL", Value: "0"}}
	step("DATA_START_BACKUP", c.DataStartBackup(ctx, "tar", env))
	if r := <-h.data; r != wire.DataHaltSuccessful {
		t.Fatalf("data halted %v", r)
	}
	<-h.mover
	gotEnv, err := c.DataGetEnv(ctx)
	step("DATA_GET_ENV", err)
	step("DATA_STOP", c.DataStop(ctx))
	step("MOVER_STOP", c.MoverStop(ctx))
	step("TAPE_CLOSE", c.TapeClose(ctx))
	c.Close() // delivers every post before returning
	if h.err != nil {
		t.Fatal(h.err)
	}
	step("history", h.rec.Close())
	return gotEnv
}

// discard counts entries and drops them.
type discard struct{ n int64 }

func (d *discard) Add(catalog.File) error { d.n++; return nil }

// BenchmarkBackupHistory backs up a 50,000-file tree through ferry's
// agent and the client with path-based history, once discarding the
// history and once ingesting it into a SQLite catalog: the catalog must
// not slow the backup down.
func BenchmarkBackupHistory(b *testing.B) {
	addr, export := agent(b)
	makeTree(b, export, 100, 500)
	ctx := context.Background()
	b.Run("discard", func(b *testing.B) {
		for range b.N {
			var d discard
			start := time.Now()
			runBackup(b, ctx, addr, export, "y", &d)
			b.ReportMetric(float64(d.n)/time.Since(start).Seconds(), "entries/s")
		}
	})
	b.Run("catalog", func(b *testing.B) {
		for range b.N {
			cat, err := catalog.OpenSQLite(ctx, filepath.Join(b.TempDir(), "catalog.db"))
			if err != nil {
				b.Fatal(err)
			}
			start := time.Now()
			id := localBackup(b, addr, export, "y", cat)
			bk, err := cat.Backup(ctx, id)
			if err != nil || bk.Files < 50000 {
				b.Fatalf("catalogued %d files, %v", bk.Files, err)
			}
			b.ReportMetric(float64(bk.Files)/time.Since(start).Seconds(), "entries/s")
			cat.Close()
		}
	})
}
