package tarengine

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"ferry/internal/testsupport/fstree"
)

// ndmjob backs up the full test tree, lists it and restores it, 2-way (one
// connection, LOCAL data connection) and 3-way (separate DATA and TAPE
// connections, TCP); the restore equals the original, and GNU tar extracts
// the tape's bytes to the same tree.
func TestNdmjobBackupListRestore(t *testing.T) {
	for _, tc := range []struct {
		name     string
		threeWay bool
	}{{"2-way", false}, {"3-way", true}} {
		t.Run(tc.name, func(t *testing.T) {
			a := newAgent(t)
			src := a.dir(t, "src")
			fstree.Build(t, src, fstree.Everything())
			index := filepath.Join(t.TempDir(), "index")
			tapeArgs := []string{"-f", "tape0"}
			if tc.threeWay {
				tapeArgs = append(tapeArgs, "-T", a.spec("4t"))
			}

			args := append([]string{"-v", "-c", "-D", a.spec("4m"), "-B", "tar", "-C", src, "-I", index}, tapeArgs...)
			ndmjob(t, args...)
			idx, err := os.ReadFile(index)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(idx, []byte("DE DUMP_DATE=ferry1:")) {
				t.Errorf("backup did not return DUMP_DATE:\n%.2000s", idx)
			}
			if !bytes.Contains(idx, []byte("DHf /files/odd UNIX f")) {
				t.Errorf("index lacks file history of /files/odd:\n%.2000s", idx)
			}

			// -t lists the stream as file history
			r := ndmjob(t, append([]string{"-v", "-t", "-D", a.spec("4m"), "-B", "tar", "/"}, tapeArgs...)...)
			if !strings.Contains(r.Output, "/files/odd") {
				t.Errorf("-t does not list /files/odd:\n%.3000s", r.Output)
			}

			dst := a.dir(t, "dst")
			r = ndmjob(t, append([]string{"-v", "-x", "-D", a.spec("4m"), "-B", "tar", "-C", dst, "/"}, tapeArgs...)...)
			if !strings.Contains(r.Output, "LOG_FILE messages: 1 OK") {
				t.Errorf("restore: no LOG_FILE OK:\n%s", r.Output)
			}
			fstree.Compare(t, src, dst, fstree.Options{})

			// the tape's bytes through GNU tar
			gnu := a.dir(t, "gnu")
			cmd := exec.Command("tar", "--warning=no-unknown-keyword", "-C", gnu, "--xattrs", "--xattrs-include=*", "--acls", "-xpf", "-")
			cmd.Stdin = bytes.NewReader(a.tapeFile(t, 0))
			out, _ := cmd.CombinedOutput()
			diff, err := fstree.Diff(src, gnu, fstree.Options{})
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range diff {
				// GNU tar cannot create paths over PATH_MAX, nor link to them
				if !strings.Contains(d, `"deep/`) && !strings.Contains(d, `"files/odd"`) {
					t.Errorf("GNU tar extraction: %s", d)
				}
			}
			if t.Failed() {
				t.Logf("GNU tar: %.3000s", out)
			}
		})
	}
}
