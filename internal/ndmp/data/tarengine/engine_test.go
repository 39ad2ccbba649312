package tarengine

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"ferry/internal/format"
	"ferry/internal/ndmp/client"
	"ferry/internal/ndmp/wire"
	"ferry/internal/testsupport/fstree"
)

// fhFiles collects FH_ADD_FILE entries: path -> fh_info.
func fhFiles(d *dma) map[string]uint64 {
	m := map[string]uint64{}
	for _, b := range d.posts(wire.CodeFhAddFile) {
		for _, f := range b.(*wire.FhAddFile).Files {
			m[f.Names[0].Path] = f.FhInfo
		}
	}
	return m
}

func logText(d *dma) string {
	var sb strings.Builder
	for _, b := range d.posts(wire.CodeLogMessage) {
		sb.WriteString(b.(*wire.LogMessage).Entry)
		sb.WriteByte('\n')
	}
	return sb.String()
}

func logFiles(d *dma) map[string]wire.RecoveryStatus {
	m := map[string]wire.RecoveryStatus{}
	for _, b := range d.posts(wire.CodeLogFile) {
		f := b.(*wire.LogFile)
		m[f.Name] = f.RecoveryStatus
	}
	return m
}

// Single-file, single-directory and hard-link restores with DAR read a small
// fraction of a large backup.
func TestDARReadsOnlyWhatItNeeds(t *testing.T) {
	a := newAgent(t)
	src := a.dir(t, "src")
	spec := fstree.Spec{
		{Path: "sub/one", Type: format.Regular, Size: 70000, Seed: 1},
		{Path: "sub/deeper/two", Type: format.Regular, Size: 3000, Seed: 2},
		{Path: "hard/a", Type: format.Regular, Size: 50000, Seed: 3},
		{Path: "hard/b", Type: format.HardLink, Target: "hard/a"},
		{Path: "zlast", Type: format.Regular, Size: 10, Seed: 4},
	}
	for i := range 40 {
		spec = append(spec, fstree.Node{Path: fmt.Sprintf("bulk/f%02d", i), Type: format.Regular, Size: 1 << 20, Seed: uint64(10 + i)})
	}
	fstree.Build(t, src, spec)
	d := dial(t, a)
	stream, reason, _ := d.backup(pv("FILESYSTEM", src), pv("HIST", "f"))
	if reason != wire.DataHaltSuccessful {
		t.Fatalf("backup halted %v: %s", reason, logText(d))
	}
	fh := fhFiles(d)
	for _, tc := range []struct{ orig, check string }{
		{"/sub/one", ""}, {"/sub", ""}, {"/hard/b", ""}, {"/zlast", ""},
	} {
		t.Run(strings.TrimPrefix(tc.orig, "/"), func(t *testing.T) {
			info, ok := fh[tc.orig]
			if !ok {
				t.Fatalf("no file history for %s", tc.orig)
			}
			dst := filepath.Join(a.dir(t, "dar-"+strings.ReplaceAll(tc.orig, "/", "_")), "out")
			d := dial(t, a)
			reason, sent := d.recover(stream, false, nil, []wire.Name{{OriginalPath: tc.orig, DestinationDir: dst, FhInfo: info, Node: wire.LengthInfinity}})
			if reason != wire.DataHaltSuccessful {
				t.Fatalf("recover halted %v: %s", reason, logText(d))
			}
			if st := logFiles(d)[tc.orig]; st != wire.RecoverySuccessful {
				t.Errorf("LOG_FILE %s: %v\n%s", tc.orig, st, logText(d))
			}
			t.Logf("%s: %d of %d stream bytes read (%.2f%%)", tc.orig, sent, len(stream), 100*float64(sent)/float64(len(stream)))
			if sent*20 > int64(len(stream)) {
				t.Errorf("DAR of %s moved %d of %d bytes", tc.orig, sent, len(stream))
			}
			want := filepath.Join(src, tc.orig)
			if tc.orig == "/hard/b" {
				want = filepath.Join(src, "hard/a")
			}
			fi, _ := os.Lstat(want)
			if fi.IsDir() {
				fstree.Compare(t, want, dst, fstree.Options{})
				return
			}
			w, _ := os.ReadFile(want)
			g, err := os.ReadFile(dst)
			if err != nil || !bytes.Equal(w, g) {
				t.Errorf("restored %s differs (%v)", tc.orig, err)
			}
		})
	}
}

// HIST=d follows the v4 ordering rules of spec §4.3.2.
func TestDirNodeHistoryOrder(t *testing.T) {
	a := newAgent(t)
	src := a.dir(t, "src")
	fstree.Build(t, src, fstree.Everything())
	d := dial(t, a)
	if _, reason, _ := d.backup(pv("FILESYSTEM", src), pv("HIST", "d")); reason != wire.DataHaltSuccessful {
		t.Fatalf("backup halted %v: %s", reason, logText(d))
	}
	d.mu.Lock()
	posts := d.post
	d.mu.Unlock()
	var dirs []wire.FhDir
	seenDir := map[uint64]bool{}
	nodes := map[uint64]int{}
	for _, p := range posts {
		switch b := p.Body.(type) {
		case *wire.FhAddDir:
			for _, e := range b.Dirs {
				dirs = append(dirs, e)
				seenDir[e.Node] = true
			}
		case *wire.FhAddNode:
			for _, n := range b.Nodes {
				if !seenDir[n.Node] {
					t.Errorf("FH_ADD_NODE %d before its FH_ADD_DIR", n.Node)
				}
				nodes[n.Node]++
			}
		}
	}
	if len(dirs) < 2 || dirs[0].Names[0].Path != "." || dirs[0].Node != dirs[0].Parent ||
		dirs[1].Names[0].Path != ".." || dirs[1].Node != dirs[0].Node {
		t.Fatalf("first entries are not the root's . and ..: %+v", dirs[:min(2, len(dirs))])
	}
	for i, e := range dirs {
		if e.Names[0].Path == "." && (i+1 >= len(dirs) || dirs[i+1].Names[0].Path != ".." || dirs[i+1].Parent != e.Node) {
			t.Errorf("entry %d: . of node %d not followed by its ..", i, e.Node)
		}
	}
	for n, c := range nodes {
		if c != 1 {
			t.Errorf("node %d has %d FH_ADD_NODE entries", n, c)
		}
	}
}

// FILESYSTEM outside the exports is refused before the backup starts
// (ILLEGAL_ARGS, with a message naming the path and the exports); a bad
// level, base date or an impossible snapshot fail the job with a message
// saying why.
func TestBackupRefusals(t *testing.T) {
	a := newAgent(t)
	src := a.dir(t, "src")
	link := filepath.Join(a.export, "escape")
	if err := os.Symlink(t.TempDir(), link); err != nil {
		t.Fatal(err)
	}
	outside := t.TempDir()
	for _, fs := range []string{outside, filepath.Join(outside, "missing"), link} {
		d := dial(t, a)
		d.listen()
		err := d.c.DataStartBackup(context.Background(), "tar", []wire.PVal{pv("FILESYSTEM", fs)})
		want := fs + " "
		if fs == link {
			want = fs + " (resolves to "
		}
		want2 := "is not under an exported directory (exports: " + a.export + ")"
		if !client.IsNDMP(err, wire.ErrIllegalArgs) || !waitLog(d, want) || !strings.Contains(logText(d), want2) {
			t.Errorf("FILESYSTEM=%s: DATA_START_BACKUP %v, log %q; want ILLEGAL_ARGS and %q...%q", fs, err, logText(d), want, want2)
		}
		if st, err := d.c.DataGetState(context.Background()); err != nil || st.State != wire.DataStateConnected {
			t.Errorf("FILESYSTEM=%s: after the refusal %+v %v, want CONNECTED", fs, st, err)
		}
	}
	for _, tc := range []struct {
		env  []wire.PVal
		want string
	}{
		{[]wire.PVal{pv("FILESYSTEM", src), pv("LEVEL", "12")}, "LEVEL"},
		{[]wire.PVal{pv("FILESYSTEM", src), pv("BASE_DATE", "yesterday")}, "BASE_DATE"},
		{[]wire.PVal{pv("FILESYSTEM", src), pv("SNAPSHOT", "y")}, "snapshot"},
	} {
		if tc.want == "snapshot" && onBtrfs(src) {
			continue // a snapshot may well succeed here
		}
		d := dial(t, a)
		_, reason, _ := d.backup(tc.env...)
		if reason == wire.DataHaltSuccessful || !strings.Contains(logText(d), tc.want) {
			t.Errorf("%v: halted %v, log %q", tc.env, reason, logText(d))
		}
	}
}

// waitLog waits a little for a LOG_MESSAGE containing s: the client hands
// posts over on a goroutine of its own.
func waitLog(d *dma, s string) bool {
	for range 100 {
		if strings.Contains(logText(d), s) {
			return true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return false
}

// RECOVER_FILEHIST lists the stream without writing.
func TestRecoverFilehist(t *testing.T) {
	a := newAgent(t)
	src := a.dir(t, "src")
	built := fstree.Build(t, src, fstree.Everything())
	d := dial(t, a)
	stream, _, _ := d.backup(pv("FILESYSTEM", src))
	d = dial(t, a)
	dst := a.dir(t, "dst")
	reason, _ := d.recover(stream, true, []wire.PVal{pv("HIST", "f")}, []wire.Name{{OriginalPath: "/", DestinationDir: dst, FhInfo: wire.LengthInfinity}})
	if reason != wire.DataHaltSuccessful {
		t.Fatalf("halted %v: %s", reason, logText(d))
	}
	fh := fhFiles(d)
	for _, n := range built {
		if _, ok := fh["/"+n.Path]; !ok {
			t.Errorf("file history lacks %q", n.Path)
		}
	}
	if ents, _ := os.ReadDir(dst); len(ents) != 0 {
		t.Errorf("RECOVER_FILEHIST wrote %d entries", len(ents))
	}
}

// Data to data (ndmpcopy): one data service LISTENs in recover mode, the
// other CONNECTs to it in backup mode; the tree moves with no tape.
func TestDataToDataCopy(t *testing.T) {
	a := newAgent(t)
	src := a.dir(t, "src")
	fstree.Build(t, src, fstree.Everything())
	dst := a.dir(t, "dst")
	ctx := context.Background()
	rec, bak := dial(t, a), dial(t, a)
	addr, err := rec.c.DataListen(ctx, wire.AddrTCP)
	if err != nil {
		t.Fatal(err)
	}
	if err := rec.c.DataStartRecover(ctx, "tar", []wire.PVal{pv("PREFIX", dst)}, []wire.Name{{OriginalPath: "/", DestinationDir: dst, FhInfo: wire.LengthInfinity}}); err != nil {
		t.Fatal(err)
	}
	if err := bak.c.DataConnect(ctx, addr); err != nil {
		t.Fatal(err)
	}
	if err := bak.c.DataStartBackup(ctx, "tar", []wire.PVal{pv("FILESYSTEM", src)}); err != nil {
		t.Fatal(err)
	}
	if r := bak.waitHalt(); r != wire.DataHaltSuccessful {
		t.Fatalf("backup halted %v: %s", r, logText(bak))
	}
	if r := rec.waitHalt(); r != wire.DataHaltSuccessful {
		t.Fatalf("recover halted %v: %s", r, logText(rec))
	}
	bak.stop()
	rec.stop()
	fstree.Compare(t, src, dst, fstree.Options{})
}

// A chain of twelve incrementals with adds, changes, renames and deletes,
// applied in order, restores the final tree.
func TestIncrementalChain(t *testing.T) {
	a := newAgent(t)
	src := a.dir(t, "src")
	fstree.Build(t, src, fstree.Spec{
		{Path: "keep/a", Type: format.Regular, Size: 1000, Seed: 1},
		{Path: "keep/b", Type: format.Regular, Size: 2000, Seed: 2},
		{Path: "dir/x", Type: format.Regular, Size: 3000, Seed: 3},
		{Path: "dir/sub/y", Type: format.Regular, Size: 4000, Seed: 4},
		{Path: "gone", Type: format.Regular, Size: 10, Seed: 5},
	})
	p := func(n string) string { return filepath.Join(src, n) }
	write := func(n, s string) {
		if err := os.WriteFile(p(n), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	steps := []func(){
		func() { write("new1", "added") },
		func() { write("keep/a", "changed a") },
		func() { os.Rename(p("keep/b"), p("keep/b2")) },
		func() { os.Remove(p("gone")) },
		func() { os.Rename(p("dir"), p("dir2")) },
		func() { os.MkdirAll(p("fresh/deep"), 0o755); write("fresh/deep/f", "f") },
		func() { os.RemoveAll(p("dir2/sub")) },
		func() { os.Chmod(p("keep/a"), 0o600) },
		func() { os.Rename(p("new1"), p("fresh/new1")) },
		func() { write("keep/a", "changed again") },
		func() { os.Symlink("keep/a", p("sym")) },
		func() { os.Rename(p("fresh"), p("keep/fresh")); os.Remove(p("keep/b2")) },
	}
	d := dial(t, a)
	stream, reason, env := d.backup(pv("FILESYSTEM", src), pv("LEVEL", "0"))
	if reason != wire.DataHaltSuccessful {
		t.Fatalf("level 0: %v %s", reason, logText(d))
	}
	streams := [][]byte{stream}
	for i, step := range steps {
		token := envValue(env, "DUMP_DATE")
		step()
		d := dial(t, a)
		stream, reason, env = d.backup(pv("FILESYSTEM", src), pv("LEVEL", fmt.Sprint(min(i+1, 9))), pv("BASE_DATE", token))
		if reason != wire.DataHaltSuccessful {
			t.Fatalf("step %d: %v %s", i+1, reason, logText(d))
		}
		streams = append(streams, stream)
	}
	dst := a.dir(t, "dst")
	for i, s := range streams {
		d := dial(t, a)
		reason, _ := d.recover(s, false, []wire.PVal{pv("OVERWRITE", "y")}, []wire.Name{{OriginalPath: "/", DestinationDir: dst, FhInfo: wire.LengthInfinity}})
		if reason != wire.DataHaltSuccessful {
			t.Fatalf("restore %d: %v %s", i, reason, logText(d))
		}
	}
	os.Remove(filepath.Join(dst, ".ferry-incremental-listing"))
	fstree.Compare(t, src, dst, fstree.Options{SkipRoot: true})
	if len(streams[len(streams)-1]) >= len(streams[0]) {
		t.Errorf("the last incremental (%d bytes) is not smaller than the full (%d)", len(streams[len(streams)-1]), len(streams[0]))
	}
}

func envValue(env []wire.PVal, name string) string {
	v, _ := envLookup(env, name)
	return v
}

// EXCLUDE and FILES choose what a backup holds; RECURSIVE=n restores a
// directory without its contents.
func TestSelection(t *testing.T) {
	a := newAgent(t)
	src := a.dir(t, "src")
	fstree.Build(t, src, fstree.Spec{
		{Path: "a/keep", Type: format.Regular, Size: 10, Seed: 1},
		{Path: "a/drop.tmp", Type: format.Regular, Size: 10, Seed: 2},
		{Path: "a/cache/x", Type: format.Regular, Size: 10, Seed: 3},
		{Path: "b/c/d", Type: format.Regular, Size: 10, Seed: 4},
		{Path: "b/other", Type: format.Regular, Size: 10, Seed: 5},
	})
	names := func(stream []byte) []string {
		var out []string
		r := format.NewReader(bytes.NewReader(stream))
		for {
			e, err := r.Next()
			if err != nil {
				return out
			}
			out = append(out, e.Name)
		}
	}
	d := dial(t, a)
	stream, _, _ := d.backup(pv("FILESYSTEM", src), pv("EXCLUDE", "*.tmp,a/cache"))
	got := strings.Join(names(stream), " ")
	if got != ". a a/keep b b/c b/c/d b/other" {
		t.Errorf("EXCLUDE: stream holds %q", got)
	}
	d = dial(t, a)
	stream, _, _ = d.backup(pv("FILESYSTEM", src), pv("FILES", "/b/c"), pv("FILES", "a/keep"))
	if got := strings.Join(names(stream), " "); got != "b/c b/c/d a/keep" {
		t.Errorf("FILES: stream holds %q", got)
	}
	d = dial(t, a)
	stream, _, _ = d.backup(pv("FILESYSTEM", src))
	dst := filepath.Join(a.dir(t, "dst"), "c")
	d = dial(t, a)
	d.recover(stream, false, []wire.PVal{pv("RECURSIVE", "n")}, []wire.Name{{OriginalPath: "/b/c", DestinationDir: dst, FhInfo: wire.LengthInfinity}})
	if ents, err := os.ReadDir(dst); err != nil || len(ents) != 0 {
		t.Errorf("RECURSIVE=n restored %v (%v)", ents, err)
	}
	if st := logFiles(d)["/b/c"]; st != wire.RecoverySuccessful {
		t.Errorf("LOG_FILE /b/c: %v", st)
	}
	// a name the stream lacks is reported, not silently skipped
	d = dial(t, a)
	d.recover(stream, false, nil, []wire.Name{{OriginalPath: "/nope", DestinationDir: filepath.Join(a.export, "nope"), FhInfo: wire.LengthInfinity}})
	if st := logFiles(d)["/nope"]; st != wire.RecoveryFailedNotFound {
		t.Errorf("LOG_FILE /nope: %v", st)
	}
}

// Restoring one name of a hard-linked set restores the data even when it
// sits under another name in the stream, without fh_info too.
func TestHardLinkAnyName(t *testing.T) {
	a := newAgent(t)
	src := a.dir(t, "src")
	fstree.Build(t, src, fstree.Spec{
		{Path: "hard/a", Type: format.Regular, Size: 300000, Seed: 1},
		{Path: "hard/filler", Type: format.Regular, Size: 200000, Seed: 2},
		{Path: "other/b", Type: format.HardLink, Target: "hard/a"},
		{Path: "other/c", Type: format.HardLink, Target: "hard/a"},
		{Path: "zz/after", Type: format.Regular, Size: 100, Seed: 3},
		{Path: "zz/tail", Type: format.Regular, Size: 3 << 20, Seed: 4},
	})
	d := dial(t, a)
	stream, _, _ := d.backup(pv("FILESYSTEM", src))
	dst := a.dir(t, "dst")
	d = dial(t, a)
	reason, _ := d.recover(stream, false, nil, []wire.Name{
		{OriginalPath: "/other", DestinationDir: filepath.Join(dst, "other"), FhInfo: wire.LengthInfinity},
		{OriginalPath: "/zz/after", DestinationDir: filepath.Join(dst, "zz/after"), FhInfo: wire.LengthInfinity},
	})
	if reason != wire.DataHaltSuccessful {
		t.Fatalf("halted %v: %s", reason, logText(d))
	}
	want, _ := os.ReadFile(filepath.Join(src, "hard/a"))
	for _, n := range []string{"other/b", "other/c"} {
		if got, err := os.ReadFile(filepath.Join(dst, n)); err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: %v\n%s", n, err, logText(d))
		}
	}
	var sb, sc syscallStat
	if statIno(filepath.Join(dst, "other/b"), &sb) != statIno(filepath.Join(dst, "other/c"), &sc) {
		t.Error("other/b and other/c are not one file")
	}
	if _, err := os.Stat(filepath.Join(dst, "zz/after")); err != nil {
		t.Errorf("the entry after the detour: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dst, "hard")); err == nil {
		t.Error("hard/ was restored though not selected")
	}
}

type syscallStat = struct{}

func statIno(p string, _ *syscallStat) uint64 {
	fi, err := os.Stat(p)
	if err != nil {
		return 0
	}
	return fi.Sys().(*syscall.Stat_t).Ino
}

// DATA_ABORT in the middle of a file leaves neither the file under its
// final name nor a temporary.
func TestAbortedRestoreLeavesNoPartialFile(t *testing.T) {
	a := newAgent(t)
	src := a.dir(t, "src")
	fstree.Build(t, src, fstree.Spec{
		{Path: "small", Type: format.Regular, Size: 1000, Seed: 1},
		{Path: "zbig", Type: format.Regular, Size: 20 << 20, Seed: 2},
	})
	d := dial(t, a)
	stream, _, _ := d.backup(pv("FILESYSTEM", src))
	dst := a.dir(t, "dst")
	d = dial(t, a)
	ln := d.listen()
	ctx := context.Background()
	if err := d.c.DataStartRecover(ctx, "tar", nil, []wire.Name{{OriginalPath: "/", DestinationDir: dst, FhInfo: wire.LengthInfinity}}); err != nil {
		t.Fatal(err)
	}
	conn, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	<-d.read
	if _, err := conn.Write(stream[:len(stream)/2]); err != nil {
		t.Fatal(err)
	}
	// wait until the big file is being written, then abort
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if st, err := d.c.DataGetState(ctx); err == nil && st.BytesProcessed >= uint64(len(stream)/2) {
			break
		}
	}
	if err := d.c.DataAbort(ctx); err != nil {
		t.Fatal(err)
	}
	if r := d.waitHalt(); r != wire.DataHaltAborted {
		t.Errorf("halted %v, want ABORTED", r)
	}
	d.stop()
	ents, _ := os.ReadDir(dst)
	for _, e := range ents {
		if e.Name() != "small" {
			t.Errorf("left %q in the destination", e.Name())
		}
	}
}

// What cannot be stored is reported and the backup goes on. A socket is
// left out as GNU tar leaves it ("socket ignored"): noted, not a problem.
func TestProblemsAreReported(t *testing.T) {
	a := newAgent(t)
	src := a.dir(t, "src")
	fstree.Build(t, src, fstree.Spec{
		{Path: "a", Type: format.Regular, Size: 10, Seed: 1},
		{Path: "z", Type: format.Regular, Size: 10, Seed: 2},
	})
	ln, err := net.Listen("unix", filepath.Join(src, "sock"))
	if err != nil {
		t.Skip("no unix sockets:", err)
	}
	defer ln.Close()
	d := dial(t, a)
	stream, reason, _ := d.backup(pv("FILESYSTEM", src))
	if reason != wire.DataHaltSuccessful {
		t.Fatalf("halted %v: %s", reason, logText(d))
	}
	if log := logText(d); !strings.Contains(log, "/sock: socket ignored") || !strings.Contains(log, " 0 problems") {
		t.Errorf("socket not reported:\n%s", log)
	}
	r := format.NewReader(bytes.NewReader(stream))
	var names []string
	for e, err := r.Next(); err == nil; e, err = r.Next() {
		names = append(names, e.Name)
	}
	if strings.Join(names, " ") != ". a z" {
		t.Errorf("stream holds %q", names)
	}
}

func onBtrfs(dir string) bool {
	var st syscall.Statfs_t
	return syscall.Statfs(dir, &st) == nil && st.Type == btrfsMagic
}

// DATA_ABORT during a backup ends it promptly and releases its files.
func TestAbortedBackup(t *testing.T) {
	a := newAgent(t)
	src := a.dir(t, "src")
	var spec fstree.Spec
	for i := range 300 {
		// sparse files stay open in the pipeline instead of being read ahead
		spec = append(spec, fstree.Node{Path: fmt.Sprintf("d%03d/f", i), Type: format.Regular, Size: 4 << 20, Seed: uint64(i),
			Sparse: []format.Segment{{Offset: 1 << 20, Length: 64 << 10}}})
	}
	fstree.Build(t, src, spec)
	before := openFiles(t)
	d := dial(t, a)
	ln := d.listen()
	ctx := context.Background()
	if err := d.c.DataStartBackup(ctx, "tar", []wire.PVal{pv("FILESYSTEM", src)}); err != nil {
		t.Fatal(err)
	}
	conn, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	buf := make([]byte, 1<<20)
	if _, err := io.ReadFull(conn, buf); err != nil { // the stream flows, then stalls on us
		t.Fatal(err)
	}
	if err := d.c.DataAbort(ctx); err != nil {
		t.Fatal(err)
	}
	if r := d.waitHalt(); r != wire.DataHaltAborted {
		t.Errorf("halted %v, want ABORTED", r)
	}
	d.stop()
	if after := openFiles(t); after > before+8 { // the test's own sockets
		t.Errorf("%d files open after the abort, %d before", after, before)
	}
}

func openFiles(t testing.TB) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	return len(ents)
}

// LEVEL without BASE_DATE uses the agent's dump dates: a level 1 holds what
// changed since the level 0, a later level 1 what changed since that level 0
// again (a level records itself and forgets higher ones).
func TestLevelDumpDates(t *testing.T) {
	a := newAgent(t)
	src := a.dir(t, "src")
	fstree.Build(t, src, fstree.Spec{{Path: "old", Type: format.Regular, Size: 10, Seed: 1}})
	files := func(stream []byte) []string {
		var out []string
		r := format.NewReader(bytes.NewReader(stream))
		for e, err := r.Next(); err == nil; e, err = r.Next() {
			if e.Type == format.Regular {
				out = append(out, e.Name)
			}
		}
		return out
	}
	backup := func(level string) []string {
		// past the token's slack: what changed before this backup is older
		// than its token
		time.Sleep(2 * ctimeSlack)
		d := dial(t, a)
		stream, reason, _ := d.backup(pv("FILESYSTEM", src), pv("LEVEL", level))
		if reason != wire.DataHaltSuccessful {
			t.Fatalf("level %s: %v %s", level, reason, logText(d))
		}
		return files(stream)
	}
	if got := backup("0"); strings.Join(got, " ") != "old" {
		t.Fatalf("level 0: %q", got)
	}
	os.WriteFile(filepath.Join(src, "new1"), []byte("1"), 0o644)
	if got := strings.Join(backup("1"), " "); got != "new1 .ferry-incremental-listing" {
		t.Errorf("first level 1: %q", got)
	}
	os.WriteFile(filepath.Join(src, "new2"), []byte("2"), 0o644)
	if got := strings.Join(backup("1"), " "); got != "new1 new2 .ferry-incremental-listing" {
		t.Errorf("second level 1: %q", got)
	}
	if got := strings.Join(backup("2"), " "); got != ".ferry-incremental-listing" {
		t.Errorf("level 2 right after: %q", got)
	}
}
