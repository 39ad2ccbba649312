package tarengine

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"ferry/internal/format"
	"ferry/internal/ndmp/wire"
	"ferry/internal/testsupport/fstree"
)

// A full backup and an incremental (a file deleted between them) restored
// as one chain (FERRY_RESTORE_SET) into a directory holding the user's own
// files: the deleted file is gone, the user's files stay. Without a set
// and without OVERWRITE a listing removes nothing; OVERWRITE from a DMA
// naming no set (GNU-tar-like semantics for foreign DMAs) removes what the
// incremental lacks.
func TestChainRestoreKeepsOtherFiles(t *testing.T) {
	a := newAgent(t)
	src := a.dir(t, "src")
	fstree.Build(t, src, fstree.Spec{
		{Path: "a", Type: format.Regular, Size: 100, Seed: 1},
		{Path: "gone", Type: format.Regular, Size: 100, Seed: 2},
		{Path: "sub/x", Type: format.Regular, Size: 100, Seed: 3},
	})
	d := dial(t, a)
	full, reason, env := d.backup(pv("FILESYSTEM", src), pv("LEVEL", "0"))
	if reason != wire.DataHaltSuccessful {
		t.Fatalf("level 0: %v %s", reason, logText(d))
	}
	os.Remove(filepath.Join(src, "gone"))
	d = dial(t, a)
	incr, reason, _ := d.backup(pv("FILESYSTEM", src), pv("LEVEL", "1"), pv("BASE_DATE", envValue(env, "DUMP_DATE")))
	if reason != wire.DataHaltSuccessful {
		t.Fatalf("level 1: %v %s", reason, logText(d))
	}
	restore := func(dst string, envs ...[]wire.PVal) {
		t.Helper()
		for i, s := range [][]byte{full, incr} {
			d := dial(t, a)
			reason, _ := d.recover(s, false, envs[i], []wire.Name{{OriginalPath: "/", DestinationDir: dst, FhInfo: wire.LengthInfinity}})
			if reason != wire.DataHaltSuccessful {
				t.Fatalf("recover %d: %v %s", i, reason, logText(d))
			}
		}
	}
	n := 0
	used := func() string {
		n++
		dst := a.dir(t, fmt.Sprint("dst", n))
		os.WriteFile(filepath.Join(dst, "mine"), []byte("the user's"), 0o644)
		return dst
	}
	present := func(p string) bool { _, err := os.Lstat(p); return err == nil }

	dst := used()
	set := pv("FERRY_RESTORE_SET", "t1")
	restore(dst, []wire.PVal{set}, []wire.PVal{set, pv("OVERWRITE", "y"), pv("FERRY_RESTORE_LAST", "y")})
	if !present(filepath.Join(dst, "mine")) || present(filepath.Join(dst, "gone")) || !present(filepath.Join(dst, "sub/x")) {
		t.Errorf("chain restore: mine %v (want kept), gone %v (want removed)", present(filepath.Join(dst, "mine")), present(filepath.Join(dst, "gone")))
	}
	if len(a.engine.sets.sets) != 0 {
		t.Errorf("the last recover left its set: %d kept", len(a.engine.sets.sets))
	}

	dst = used()
	restore(dst, nil, nil)
	if !present(filepath.Join(dst, "mine")) || !present(filepath.Join(dst, "gone")) {
		t.Error("without a set or OVERWRITE the listing removed something")
	}

	dst = used()
	restore(dst, nil, []wire.PVal{pv("OVERWRITE", "y")})
	if present(filepath.Join(dst, "mine")) || present(filepath.Join(dst, "gone")) {
		t.Error("OVERWRITE without a set: the incremental's listing did not prune")
	}
}
