package dma_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ferry/internal/catalog"
	"ferry/internal/dma"
	"ferry/internal/node"
	"ferry/internal/testsupport/fstree"
)

// TestManager drives the data manager as the CLI and the management API
// do, by what a user names: a local directory backed up through the
// in-process agent over the state directory's library, restored into a
// directory and onto the local agent, verified, scanned, and the catalog
// rebuilt from the library alone into a fresh one.
func TestManager(t *testing.T) {
	ctx, l, _, m := newManager(t)
	src := managedTree(t, fstree.Everything())

	b, err := m.Backup(ctx, dma.BackupRequest{Source: src})
	if err != nil {
		t.Fatal(err)
	}
	if b.Agent != dma.LocalAgentName || b.Path != src || b.Status != catalog.StatusSucceeded || len(b.Locations) != 1 {
		t.Fatalf("backup %+v", b)
	}
	out := filepath.Join(t.TempDir(), "out")
	res, err := m.Restore(ctx, dma.RestoreRequest{BackupID: b.ID, To: out})
	if err != nil {
		t.Fatal(err)
	}
	if res.Backup != b.ID || res.To != out || res.Restored == 0 || len(res.Chain) != 1 {
		t.Fatalf("restore %+v", res)
	}
	fstree.Compare(t, src, out, cmpOpts)
	onto := filepath.Join(t.TempDir(), "onto")
	if _, err := m.Restore(ctx, dma.RestoreRequest{BackupID: b.ID, To: "ndmp://local" + onto}); err != nil {
		t.Fatal(err)
	}
	fstree.Compare(t, src, onto, cmpOpts)
	v, err := m.Verify(ctx, dma.VerifyRequest{BackupID: b.ID})
	if err != nil || v.Differ != 0 || v.Checksummed == 0 {
		t.Fatalf("verify %+v: %v", v, err)
	}
	if _, err := m.Restore(ctx, dma.RestoreRequest{BackupID: b.ID + 100, To: out}); err == nil || !strings.Contains(err.Error(), "no backup") {
		t.Fatalf("restore of a backup the catalog lacks: %v", err)
	}
	if _, err := m.Cancel(ctx, b.JobID, 0, false); err == nil || !strings.Contains(err.Error(), "already ended") {
		t.Fatalf("cancel of an ended job: %v", err)
	}
	files, err := m.Scan(ctx, "", "tape0", "")
	if err != nil || len(files) != 4 || files[0].Label == nil || files[1].Header == nil || files[1].Header.BackupID != b.ID || files[3].Trailer == nil {
		t.Fatalf("scan %+v: %v", files, err)
	}

	// Catalog lost: refused beside written cartridges, rebuilt from them.
	gone := filepath.Join(t.TempDir(), "catalog.db")
	if _, err := dma.OpenCatalog(ctx, gone, l, false); err == nil || !strings.Contains(err.Error(), "ferry catalog rebuild") {
		t.Fatalf("open of a missing catalog beside written cartridges: %v", err)
	}
	fresh, err := dma.OpenCatalog(ctx, gone, l, true)
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	rb, err := dma.NewManager(fresh, dma.ManagerConfig{Layout: l}).Rebuild(ctx, dma.RebuildRequest{})
	if err != nil || len(rb.Added) != 1 || rb.Added[0] != b.ID || rb.Files == 0 {
		t.Fatalf("rebuild %+v: %v", rb, err)
	}
}

// newManager is a data manager over a fresh state directory and its
// catalog, for two minutes.
func newManager(t *testing.T) (context.Context, node.Layout, catalog.Catalog, *dma.Manager) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	l := node.Layout{Root: t.TempDir()}
	cat, err := dma.OpenCatalog(ctx, l.Catalog(), l, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cat.Close() })
	return ctx, l, cat, dma.NewManager(cat, dma.ManagerConfig{Layout: l})
}

// managedTree builds spec in a fresh directory and returns it.
func managedTree(t *testing.T, spec fstree.Spec) string {
	t.Helper()
	src := filepath.Join(t.TempDir(), "src")
	must(t, os.Mkdir(src, 0o755))
	fstree.Build(t, src, spec)
	return src
}

// TestManagerAgents: a registered agent's password is kept in the state
// directory, readable by its owner only, and resolved by name; an
// unregistered one needs a password from the request or the manager's
// configuration.
func TestManagerAgents(t *testing.T) {
	ctx, l, cat, m := newManager(t)
	for _, bad := range []string{"local", "-x", "a b"} {
		if _, err := m.AddAgent(ctx, bad, "ndmp://u@h:1", "pw"); err == nil {
			t.Errorf("agent named %q accepted", bad)
		}
	}
	a, err := m.AddAgent(ctx, "filer", "ndmp://backup@filer.example:10000", "s3cret-password")
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(a.SecretRef)
	if err != nil || fi.Mode().Perm() != 0o600 || filepath.Dir(a.SecretRef) != l.Agents() {
		t.Fatalf("secret %s: %v %v", a.SecretRef, fi, err)
	}
	got, err := m.ResolveAgent(ctx, "filer", "")
	if err != nil || got.Addr != "filer.example:10000" || got.User != "backup" || got.Password != "s3cret-password" {
		t.Fatalf("resolve filer: %+v %v", got, err)
	}
	if _, err := m.ResolveAgent(ctx, "nobody", ""); err == nil || !strings.Contains(err.Error(), "ferry agent add") {
		t.Fatalf("resolve an unknown agent: %v", err)
	}
	if _, err := m.ResolveAgent(ctx, "u@h:1", ""); err == nil || !strings.Contains(err.Error(), dma.PasswordEnv) {
		t.Fatalf("unregistered agent without a password: %v", err)
	}
	withEnv := dma.NewManager(cat, dma.ManagerConfig{Layout: l, Password: "from-env"})
	if got, err := withEnv.ResolveAgent(ctx, "u@h:1", ""); err != nil || got.Password != "from-env" {
		t.Fatalf("unregistered agent, configured password: %+v %v", got, err)
	}
	if got, err := withEnv.ResolveAgent(ctx, "u@h:1", "given"); err != nil || got.Password != "given" {
		t.Fatalf("unregistered agent, request's password: %+v %v", got, err)
	}
}
