package tarengine

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"

	"ferry/internal/format"
	"ferry/internal/ndmp/wire"
	"ferry/internal/testsupport/fstree"
	"ferry/internal/testsupport/guardtest"
)

// TestBackupOutOfDescriptors backs up, in a child process whose descriptor
// limit leaves only a few spare, a tree of small files, large streamed
// files and nested directories: every entry is in the stream and nothing
// is reported missing (a reproduction found 10 of 511 files stored, the
// rest skipped for EMFILE, as a success).
func TestBackupOutOfDescriptors(t *testing.T) {
	const env = "FERRY_TARENGINE_FDLIMIT_CHILD"
	if os.Getenv(env) == "" {
		guardtest.RunChild(t, "TestBackupOutOfDescriptors", env)
		return
	}
	a := newAgent(t)
	src := a.dir(t, "src")
	spec := fstree.ManySmall(600, 3000)
	for i := range 8 {
		spec = append(spec,
			fstree.Node{Path: fmt.Sprintf("big/f%d", i), Type: format.Regular, Size: 2 << 20, Seed: uint64(i + 1)},
			fstree.Node{Path: fmt.Sprintf("deep/d%d/x/y/file", i), Type: format.Regular, Size: 100, Seed: uint64(i + 20)})
	}
	fstree.Build(t, src, spec)
	d := dial(t, a)
	guardtest.Lower(t, 10)
	stream, reason, _ := d.backup(pv("FILESYSTEM", src))
	if reason != wire.DataHaltSuccessful {
		t.Fatalf("halted %v: %s", reason, logText(d))
	}
	if log := logText(d); !strings.Contains(log, " 0 problems") {
		t.Fatalf("problems reported:\n%s", log)
	}
	files := 0
	r := format.NewReader(bytes.NewReader(stream))
	for e, err := r.Next(); err == nil; e, err = r.Next() {
		if e.Type == format.Regular {
			files++
		}
	}
	if files != len(spec) {
		t.Fatalf("the stream holds %d files of %d", files, len(spec))
	}
}
