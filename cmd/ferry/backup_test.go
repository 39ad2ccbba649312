package main

import (
	"bufio"
	"bytes"
	"encoding/json"

	"ferry/internal/catalog/pgtest"

	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"ferry/internal/format"
	"ferry/internal/testsupport/fstree"
	"ferry/internal/testsupport/ndmjobtest"
)

// cli runs the ferry binary on one state directory.
type cli struct {
	t       *testing.T
	bin     string
	state   string
	catalog string // --catalog, "" for the state directory's SQLite file
}

// run runs ferry with args and fails the test unless it exits 0.
func (c cli) run(args ...string) string {
	c.t.Helper()
	out, err := c.exec(args...)
	if err != nil {
		c.t.Fatalf("ferry %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func (c cli) exec(args ...string) (string, error) {
	global := []string{"--state", c.state}
	if c.catalog != "" {
		global = append(global, "--catalog", c.catalog)
	}
	cmd := exec.Command(c.bin, append(global, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		return stdout.String() + stderr.String(), err
	}
	return stdout.String(), nil
}

// runJSON runs ferry --json and decodes its output into v.
func (c cli) runJSON(v any, args ...string) {
	c.t.Helper()
	out := c.run(append(args, "--json")...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		c.t.Fatalf("ferry %s --json: %v\n%s", strings.Join(args, " "), err, out)
	}
}

type backupDoc struct {
	ID        int64  `json:"id"`
	Level     int    `json:"level"`
	BaseID    int64  `json:"base_id"`
	Status    string `json:"status"`
	Files     int64  `json:"files"`
	Locations []struct {
		Barcode string `json:"barcode"`
		File    int    `json:"file"`
	} `json:"locations"`
}

// backup runs ferry backup --json and returns the backup.
func (c cli) backup(args ...string) backupDoc {
	c.t.Helper()
	var b backupDoc
	c.runJSON(&b, append([]string{"backup"}, args...)...)
	if b.ID == 0 || b.Status != "succeeded" || len(b.Locations) != 1 {
		c.t.Fatalf("backup %v: %+v", args, b)
	}
	return b
}

// restore restores a backup into a fresh directory and returns it.
func (c cli) restore(id int64, paths ...string) string {
	c.t.Helper()
	dest := filepath.Join(c.t.TempDir(), "dest")
	c.run(append([]string{"restore", itoa(id), "--to", dest}, paths...)...)
	return dest
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// sourceTree is the tree the CLI tests back up: every kind of file when
// running as root (devices and owners need it), plain files otherwise, and
// a few hundred small files.
func sourceTree(t *testing.T, dir string) {
	spec := fstree.ManySmall(300, 700)
	if os.Geteuid() == 0 {
		spec = append(spec, fstree.Everything()...)
	} else {
		spec = append(spec, fstree.Node{Path: "plain/file", Type: format.Regular, Size: 70000, Seed: 5},
			fstree.Node{Path: "plain/link", Type: format.Symlink, Target: "file"})
	}
	fstree.Build(t, dir, spec)
}

var treeOpts = fstree.Options{SkipRoot: true}

// TestBackupCommands runs the data manager's commands on the embedded
// agent: backup of a directory, backups, ls, find, restore (whole and one
// path), a second backup appended on the same cartridge with both
// restorable, and an incremental chain restoring to the final state.
func TestBackupCommands(t *testing.T) { testBackupCommands(t, "") }

// TestBackupCommandsPostgres runs the same commands with the catalog on
// PostgreSQL (a throwaway local server).
func TestBackupCommandsPostgres(t *testing.T) {
	testBackupCommands(t, postgres.Database(t))
}

// postgres is one throwaway PostgreSQL server for this test binary.
var postgres pgtest.Shared

func testBackupCommands(t *testing.T, catalogSpec string) {
	c := cli{t: t, bin: ferryBinary(t), state: t.TempDir(), catalog: catalogSpec}
	if catalogSpec != "" {
		t.Cleanup(func() {
			if _, err := os.Stat(filepath.Join(c.state, "catalog.db")); err == nil {
				t.Errorf("--catalog %s was given, yet a SQLite catalog appeared in the state directory", catalogSpec)
			}
		})
	}
	src := filepath.Join(t.TempDir(), "src")
	if err := os.Mkdir(src, 0o755); err != nil {
		t.Fatal(err)
	}
	sourceTree(t, src)

	b1 := c.backup(src)
	var list []backupDoc
	c.runJSON(&list, "backups")
	if len(list) != 1 || list[0].ID != b1.ID {
		t.Fatalf("backups: %+v", list)
	}
	var ls []struct {
		Path string `json:"path"`
		Type string `json:"type"`
	}
	c.runJSON(&ls, "ls", itoa(b1.ID))
	if !slices.ContainsFunc(ls, func(e struct {
		Path string `json:"path"`
		Type string `json:"type"`
	}) bool {
		return e.Path == "/d0000" && e.Type == "dir"
	}) {
		t.Fatalf("ls: %+v", ls)
	}
	var found []struct {
		Backup int64  `json:"backup"`
		Path   string `json:"path"`
	}
	c.runJSON(&found, "find", "*/f000123")
	if len(found) != 1 || found[0].Backup != b1.ID {
		t.Fatalf("find: %+v", found)
	}
	first := c.restore(b1.ID)
	fstree.Compare(t, src, first, treeOpts)
	var v struct {
		OK      bool `json:"ok"`
		Entries int  `json:"entries"`
	}
	c.runJSON(&v, "verify", itoa(b1.ID))
	if !v.OK || int64(v.Entries) != b1.Files {
		t.Fatalf("verify: %+v, backup has %d files", v, b1.Files)
	}

	one := c.restore(b1.ID, strings.TrimPrefix(found[0].Path, "/"))
	if n := countFiles(t, one); n != 1 {
		t.Fatalf("restore of one path restored %d files", n)
	}

	// A second full backup appends after the first; both restore.
	fstree.Build(t, src, fstree.Spec{{Path: "later/new", Type: format.Regular, Size: 1234, Seed: 8}})
	b2 := c.backup(src)
	if b2.Locations[0].Barcode != b1.Locations[0].Barcode || b2.Locations[0].File <= b1.Locations[0].File {
		t.Fatalf("second backup at %+v, first at %+v", b2.Locations, b1.Locations)
	}
	fstree.Compare(t, src, c.restore(b2.ID), treeOpts)
	fstree.Compare(t, first, c.restore(b1.ID), treeOpts)

	// An incremental chain with adds, changes, renames and deletes.
	steps := []func(){
		func() { must(t, os.WriteFile(filepath.Join(src, "later/new"), []byte("changed"), 0o644)) },
		func() {
			must(t, os.Rename(filepath.Join(src, "d0000"), filepath.Join(src, "moved")))
			must(t, os.WriteFile(filepath.Join(src, "added"), []byte("added"), 0o644))
		},
		func() { must(t, os.RemoveAll(filepath.Join(src, "later"))) },
	}
	prev := b2
	for i, step := range steps {
		time.Sleep(20 * time.Millisecond)
		step()
		b := c.backup(src, "--incremental")
		if b.BaseID != prev.ID || b.Level != i+1 {
			t.Fatalf("incremental %d: %+v, want based on %d", i+1, b, prev.ID)
		}
		prev = b
	}
	fstree.Compare(t, src, c.restore(prev.ID), treeOpts)

	// The cartridge describes itself: its label first, then a header
	// before each of the 5 images and a trailer after it.
	var scan []struct {
		File   int `json:"file"`
		Header *struct {
			BackupID  int64 `json:"backup_id"`
			ImageFile int   `json:"image_file"`
		} `json:"header"`
	}
	c.runJSON(&scan, "catalog", "scan", "--drive", "tape0")
	if len(scan) != 16 || scan[13].Header == nil || scan[13].Header.BackupID != prev.ID || scan[13].Header.ImageFile != 14 {
		t.Fatalf("catalog scan: %d files, last header %+v", len(scan), scan[len(scan)-3].Header)
	}

	// The catalog's view of the cartridge: every backup on it, appendable.
	var media []struct {
		Barcode  string  `json:"barcode"`
		State    string  `json:"state"`
		NextFile int     `json:"next_file"`
		Backups  []int64 `json:"backups"`
	}
	c.runJSON(&media, "media")
	if len(media) != 1 || media[0].State != "append" || len(media[0].Backups) != 5 || media[0].NextFile != 16 {
		t.Fatalf("ferry media: %+v", media)
	}

	// Errors: exit status 1 and a message saying what to do.
	if out, err := c.exec("restore", "999", "--to", t.TempDir()); err == nil || !strings.Contains(out, "ferry backups") {
		t.Fatalf("restore of an unknown backup: %v %s", err, out)
	}
	if out, err := c.exec("backup", filepath.Join(src, "missing")); err == nil {
		t.Fatalf("backup of a missing directory succeeded: %s", out)
	}
}

// TestBackupRemoteAgent backs up through a separate `ferry serve` process
// with ndmp://USER@HOST:PORT/PATH and --password-file, then through a
// registered agent, and restores both.
func TestBackupRemoteAgent(t *testing.T) {
	bin := ferryBinary(t)
	exported := t.TempDir()
	src := filepath.Join(exported, "src")
	must(t, os.Mkdir(src, 0o755))
	fstree.Build(t, src, fstree.ManySmall(100, 3000))
	agentState := t.TempDir()
	serve := exec.Command(bin, "serve", "--state", agentState, "--ndmp", "127.0.0.1:0", "--export", exported, "--log-level", "error")
	stderr, err := serve.StderrPipe()
	must(t, err)
	must(t, serve.Start())
	defer func() {
		serve.Process.Signal(os.Interrupt)
		serve.Wait()
	}()
	sc := bufio.NewScanner(stderr)
	if !sc.Scan() {
		t.Fatalf("ferry serve printed nothing: %v", sc.Err())
	}
	addr, _, _ := strings.Cut(strings.TrimPrefix(sc.Text(), "ferry: NDMP agent on "), " ")
	go func() {
		for sc.Scan() {
		}
	}()
	pwFile := filepath.Join(agentState, "ndmp-password")

	c := cli{t: t, bin: bin, state: t.TempDir()}
	b := c.backup("ndmp://ndmp@"+addr+src, "--password-file", pwFile)
	if b.Files < 100 {
		t.Fatalf("backup catalogued %d files", b.Files)
	}
	// The agent's password is needed again to read the tape back.
	dest := filepath.Join(t.TempDir(), "dest")
	if out, err := c.exec("restore", itoa(b.ID), "--to", dest); err == nil || !strings.Contains(out, "password") {
		t.Fatalf("restore without a password: %v %s", err, out)
	}
	c.run("restore", itoa(b.ID), "--to", dest, "--password-file", pwFile)
	fstree.Compare(t, src, dest, treeOpts)

	c.run("agent", "add", "nas", "ndmp://ndmp@"+addr, "--password-file", pwFile)
	fi, err := os.Stat(filepath.Join(c.state, "agents", "nas.secret"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("stored secret: %v %v", fi, err)
	}
	if out := c.run("agent", "ls"); !strings.Contains(out, "ndmp://ndmp@"+addr) {
		t.Fatalf("agent ls: %s", out)
	}
	b2 := c.backup("ndmp://nas"+src, "--tape", "ndmp://nas/tape0")
	if b2.Locations[0].File <= b.Locations[0].File {
		t.Fatalf("second backup at %+v, first at %+v", b2.Locations, b.Locations)
	}
	fstree.Compare(t, src, c.restore(b2.ID), treeOpts)

	// Onto the agent's file system by its data service: everything, and
	// one file by DAR.
	onAgent := filepath.Join(exported, "onagent")
	c.run("restore", itoa(b2.ID), "--to", "ndmp://nas"+onAgent)
	fstree.Compare(t, src, onAgent, treeOpts)
	darDest := filepath.Join(exported, "dar")
	c.run("restore", itoa(b2.ID), "--to", "ndmp://nas"+darDest, "d0000/f000042")
	if n := countFiles(t, darDest); n != 1 {
		t.Fatalf("DAR of one file restored %d files", n)
	}

	// 3-way: data from the in-process agent, tape on the served agent;
	// the restore reads through the tape agent named in the job.
	local := filepath.Join(t.TempDir(), "local")
	must(t, os.Mkdir(local, 0o755))
	fstree.Build(t, local, fstree.ManySmall(30, 100))
	b3 := c.backup(local, "--tape", "ndmp://nas/tape1")
	if b3.Locations[0].File != 2 {
		t.Fatalf("3-way backup on an unused cartridge at %+v (want its label, its header, the image)", b3.Locations)
	}
	fstree.Compare(t, local, c.restore(b3.ID), treeOpts)
	if out := c.run("verify", itoa(b3.ID)); !strings.Contains(out, "verified") {
		t.Fatalf("verify of the 3-way backup: %s", out)
	}

	// 3-way restores: the in-process agent's data service writes, the
	// served agent's mover reads its tape.
	threeWay := filepath.Join(t.TempDir(), "threeway")
	c.run("restore", itoa(b3.ID), "--to", "ndmp://local"+threeWay)
	fstree.Compare(t, local, threeWay, treeOpts)
	fromNas := filepath.Join(t.TempDir(), "fromnas")
	c.run("restore", itoa(b2.ID), "--to", "ndmp://local"+fromNas, "--tape", "ndmp://nas/tape0", "d0000/f000042")
	if n := countFiles(t, fromNas); n != 1 {
		t.Fatalf("3-way DAR of one file restored %d files", n)
	}
}

func countFiles(t *testing.T, dir string) int {
	n := 0
	filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			n++
		}
		return nil
	})
	return n
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestThreeWayNdmjobDaemon is the 3-way check as run from outside: ferry's
// in-process data service backs up to the tape service of Amanda's
// `ndmjob -o daemon` whose config names a simulated tape, twice (a full
// and an incremental on the same cartridge), and both restore identically
// through ndmjob's TAPE_READ.
func TestThreeWayNdmjobDaemon(t *testing.T) {
	tool := ndmjobtest.Find(t)
	dir := t.TempDir()
	tapeFile := filepath.Join(dir, "tape.sim")
	must(t, os.WriteFile(tapeFile, nil, 0o644))
	conf := filepath.Join(dir, "ndmjob.conf")
	must(t, os.WriteFile(conf, []byte("[tape simtape]\n\tdevice "+tapeFile+"\n"), 0o644))
	addr := tool.StartDaemon(t, conf)
	pw := filepath.Join(dir, "password")
	must(t, os.WriteFile(pw, []byte("ndmp\n"), 0o600))
	t.Setenv("FERRY_NDMP_PASSWORD", "ndmp") // for the restores through the unregistered agent
	c := cli{t: t, bin: ferryBinary(t), state: t.TempDir()}
	src := filepath.Join(t.TempDir(), "src")
	must(t, os.Mkdir(src, 0o755))
	fstree.Build(t, src, fstree.ManySmall(60, 2500))
	tape := "ndmp://ndmp@" + addr + tapeFile
	full := c.backup(src, "--tape", tape, "--tape-password-file", pw)
	fstree.Compare(t, src, c.restore(full.ID), treeOpts)
	time.Sleep(1100 * time.Millisecond) // the incremental's files are newer than the full's DUMP_DATE
	must(t, os.WriteFile(filepath.Join(src, "added"), []byte("after the full backup"), 0o644))
	must(t, os.Remove(filepath.Join(src, "d0000", "f000001")))
	incr := c.backup(src, "--tape", tape, "--tape-password-file", pw, "--incremental")
	if incr.Level != 1 || incr.BaseID != full.ID || incr.Locations[0].File != full.Locations[0].File+3 {
		t.Fatalf("incremental %+v after full %+v", incr, full)
	}
	fstree.Compare(t, src, c.restore(incr.ID), treeOpts)
}
