package tarengine

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"ferry/internal/format"
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
		data     string // ndmjob's version and auth for the DATA agent
	}{{"2-way", false, "4m"}, {"3-way", true, "4m"}, {"3-way-v3", true, "3t"}} {
		t.Run(tc.name, func(t *testing.T) {
			a := newAgent(t)
			src := a.dir(t, "src")
			fstree.Build(t, src, fstree.Everything())
			index := filepath.Join(t.TempDir(), "index")
			tapeArgs := []string{"-f", "tape0"}
			if tc.threeWay {
				tapeArgs = append(tapeArgs, "-T", a.spec("4t"))
			}

			args := append([]string{"-v", "-c", "-D", a.spec(tc.data), "-B", "tar", "-C", src, "-I", index}, tapeArgs...)
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

			// -t lists the stream as file history (RECOVER_FILEHIST is v4)
			if tc.data[0] == '4' {
				r := ndmjob(t, append([]string{"-v", "-t", "-D", a.spec(tc.data), "-B", "tar", "/"}, tapeArgs...)...)
				if !strings.Contains(r.Output, "/files/odd") {
					t.Errorf("-t does not list /files/odd:\n%.3000s", r.Output)
				}
			}

			dst := a.dir(t, "dst")
			r := ndmjob(t, append([]string{"-v", "-x", "-D", a.spec(tc.data), "-B", "tar", "-C", dst, "/"}, tapeArgs...)...)
			if !strings.Contains(r.Output, "LOG_FILE messages: 1 OK") {
				t.Errorf("restore: no LOG_FILE OK:\n%s", r.Output)
			}
			fstree.Compare(t, src, dst, fstree.Options{})

			// Without a file list ndmjob sends an empty nlist: the whole backup.
			whole := a.dir(t, "whole")
			r = ndmjob(t, append([]string{"-v", "-x", "-D", a.spec("4m"), "-B", "tar", "-C", whole}, tapeArgs...)...)
			if !strings.Contains(r.Output, "Operation ended OKAY") {
				t.Errorf("restore without a file list:\n%s", r.Output)
			}
			fstree.Compare(t, src, whole, fstree.Options{})

			// the tape's bytes through GNU tar
			if _, err := exec.LookPath("tar"); err != nil {
				t.Skip("GNU tar not installed")
			}
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

var streamReadRE = regexp.MustCompile(`(\d+) stream bytes read`)

// ndmjob's DAR: the index of a backup gives fh_info; restoring one file and
// one directory moves only a small part of the tape, 2-way and 3-way.
func TestNdmjobDirectAccessRestore(t *testing.T) {
	for _, threeWay := range []bool{false, true} {
		t.Run(map[bool]string{false: "2-way", true: "3-way"}[threeWay], func(t *testing.T) {
			a := newAgent(t)
			src := a.dir(t, "src")
			spec := fstree.Spec{
				{Path: "sub/one", Type: format.Regular, Size: 70000, Seed: 1},
				{Path: "sub/deeper/two", Type: format.Regular, Size: 3000, Seed: 2},
			}
			for i := range 30 {
				spec = append(spec, fstree.Node{Path: fmt.Sprintf("bulk/f%02d", i), Type: format.Regular, Size: 1 << 20, Seed: uint64(10 + i)})
			}
			spec = append(spec, fstree.Node{Path: "tail/last", Type: format.Regular, Size: 5000, Seed: 3})
			fstree.Build(t, src, spec)
			index := filepath.Join(t.TempDir(), "index")
			tapeArgs := []string{"-f", "tape0"}
			if threeWay {
				tapeArgs = append(tapeArgs, "-T", a.spec("4t"))
			}
			ndmjob(t, append([]string{"-c", "-D", a.spec("4m"), "-B", "tar", "-C", src, "-I", index}, tapeArgs...)...)
			total := int64(len(a.tapeFile(t, 0)))
			for _, item := range []string{"/sub/one", "/sub", "/tail/last"} {
				dst := a.dir(t, "dst"+strings.ReplaceAll(item, "/", "_"))
				r := ndmjob(t, append([]string{"-v", "-x", "-D", a.spec("4m"), "-B", "tar", "-C", dst, "-J", index, item}, tapeArgs...)...)
				if !strings.Contains(r.Output, "LOG_FILE messages: 1 OK") {
					t.Errorf("%s: no LOG_FILE OK:\n%s", item, r.Output)
				}
				m := streamReadRE.FindStringSubmatch(r.Output)
				if m == nil {
					t.Fatalf("%s: no read count:\n%s", item, r.Output)
				}
				n, _ := strconv.ParseInt(m[1], 10, 64)
				t.Logf("%s: %d of %d stream bytes read (%.2f%%)", item, n, total, 100*float64(n)/float64(total))
				if n*20 > total {
					t.Errorf("%s: DAR read %d of %d bytes", item, n, total)
				}
				want := filepath.Join(src, item)
				if fi, _ := os.Stat(want); fi.IsDir() {
					fstree.Compare(t, want, filepath.Join(dst, item), fstree.Options{})
				} else if w, g := readFile(t, want), readFile(t, filepath.Join(dst, item)); !bytes.Equal(w, g) {
					t.Errorf("%s restored wrong", item)
				}
			}
			// without the index: no fh_info, one pass reading on demand
			dst := a.dir(t, "noindex")
			r := ndmjob(t, append([]string{"-v", "-x", "-D", a.spec("4m"), "-B", "tar", "-C", dst, "/sub"}, tapeArgs...)...)
			if !strings.Contains(r.Output, "LOG_FILE messages: 1 OK") {
				t.Errorf("/sub without index: no LOG_FILE OK:\n%s", r.Output)
			}
			fstree.Compare(t, filepath.Join(src, "sub"), filepath.Join(dst, "sub"), fstree.Options{})
		})
	}
}

func readFile(t testing.TB, p string) []byte {
	b, err := os.ReadFile(p)
	if err != nil {
		t.Error(err)
	}
	return b
}

// `-E HIST=d`: ndmjob indexes dir/node file history, resolves a path through
// it and restores that file by DAR.
func TestNdmjobNodeHistory(t *testing.T) {
	a := newAgent(t)
	src := a.dir(t, "src")
	fstree.Build(t, src, fstree.Everything())
	index := filepath.Join(t.TempDir(), "index")
	ndmjob(t, "-c", "-D", a.spec("4m"), "-B", "tar", "-C", src, "-f", "tape0", "-I", index, "-E", "HIST=d")
	idx := readFile(t, index)
	if !bytes.Contains(idx, []byte("\nDHd ")) || !bytes.Contains(idx, []byte("\nDHn ")) || bytes.Contains(idx, []byte("\nDHf ")) {
		t.Fatalf("index lacks dir/node history:\n%.1500s", idx)
	}
	dst := a.dir(t, "dst")
	r := ndmjob(t, "-v", "-x", "-D", a.spec("4m"), "-B", "tar", "-C", dst, "-f", "tape0", "-J", index, "/files/odd")
	if !strings.Contains(r.Output, "LOG_FILE messages: 1 OK") {
		t.Errorf("no LOG_FILE OK:\n%s", r.Output)
	}
	m := streamReadRE.FindStringSubmatch(r.Output)
	total := int64(len(a.tapeFile(t, 0)))
	if m == nil {
		t.Fatalf("no read count:\n%s", r.Output)
	}
	if n, _ := strconv.ParseInt(m[1], 10, 64); n*5 > total {
		t.Errorf("DAR through node history read %d of %d bytes", n, total)
	}
	if !bytes.Equal(readFile(t, filepath.Join(src, "files/odd")), readFile(t, filepath.Join(dst, "files/odd"))) {
		t.Error("files/odd restored wrong")
	}
}
