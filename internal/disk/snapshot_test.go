package disk

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// fill writes a pattern over the whole disk and returns it.
func fill(t *testing.T, d *Disk, seed uint64) []byte {
	t.Helper()
	img := make([]byte, d.meta.Size)
	r := rand.New(rand.NewPCG(seed, 1))
	for i := range img {
		img[i] = byte(r.Uint32())
	}
	if _, err := d.WriteAt(img, 0); err != nil {
		t.Fatal(err)
	}
	return img
}

// readSnap reads a whole snapshot image.
func readSnap(t *testing.T, d *Disk, name string) ([]byte, error) {
	t.Helper()
	im, err := d.OpenSnapshot(name)
	if err != nil {
		return nil, err
	}
	got := make([]byte, d.meta.Size)
	// Odd-sized reads cross chunk borders and mix preserved and live runs.
	for off := 0; off < len(got); off += 3 * 512 {
		end := min(off+3*512, len(got))
		if _, err := im.ReadAt(got[off:end], int64(off)); err != nil {
			return nil, err
		}
	}
	return got, nil
}

func TestSnapshotPointInTime(t *testing.T) {
	d := newDisk(t, 1<<20, Options{})
	orig := fill(t, d, 1)
	if _, err := d.Snapshot(SnapshotOptions{Name: "a"}); err != nil {
		t.Fatal(err)
	}
	live := slices.Clone(orig)
	w := func(off int, p []byte) {
		if _, err := d.WriteAt(p, int64(off)); err != nil {
			t.Fatal(err)
		}
		copy(live[off:], p)
	}
	w(0, bytes.Repeat([]byte{1}, 512))            // part of a chunk
	w(4096*3-512, bytes.Repeat([]byte{2}, 1024))  // across two chunks
	w(4096*10, bytes.Repeat([]byte{3}, 4096*4))   // whole chunks
	w(4096*10+100, bytes.Repeat([]byte{4}, 4096)) // again, already preserved
	if err := d.Deallocate(4096*20, 8192); err != nil {
		t.Fatal(err)
	}
	clear(live[4096*20 : 4096*22])
	got, err := readSnap(t, d, "a")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, orig) {
		t.Fatal("the snapshot does not read the image as it was")
	}
	now := make([]byte, len(live))
	if _, err := d.ReadAt(now, 0); err != nil || !bytes.Equal(now, live) {
		t.Fatalf("the live disk lost writes: %v", err)
	}
	snaps, _ := d.Snapshots()
	// Chunks 0, 2, 3, 10-13, 20, 21 preserved.
	if len(snaps) != 1 || snaps[0].CowUsed != 9*4096 || snaps[0].State != SnapshotActive {
		t.Fatalf("%+v", snaps)
	}
}

// TestSnapshotHostWritesWhileReading has writers rewrite chunks while a
// reader reads the snapshot: every read is the original image.
func TestSnapshotHostWritesWhileReading(t *testing.T) {
	d := newDisk(t, 1<<20, Options{})
	orig := fill(t, d, 2)
	if _, err := d.Snapshot(SnapshotOptions{Name: "a", CowLimit: 1 << 20}); err != nil {
		t.Fatal(err)
	}
	im, err := d.OpenSnapshot("a")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(g), 2))
			p := bytes.Repeat([]byte{byte(0xF0 + g)}, 4096)
			for range 300 {
				d.WriteAt(p, int64(r.IntN(256))*4096)
			}
		})
	}
	got := make([]byte, 64<<10)
	for i := 0; i < 200; i++ {
		off := (i * 64 << 10) % (1 << 20)
		if _, err := im.ReadAt(got, int64(off)); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, orig[off:off+len(got)]) {
			t.Fatalf("read %d at %d: not the snapshot's image", i, off)
		}
	}
	wg.Wait()
}

func TestSnapshotCowFull(t *testing.T) {
	d := newDisk(t, 1<<20, Options{})
	fill(t, d, 3)
	if _, err := d.Snapshot(SnapshotOptions{Name: "a", CowLimit: 2 * 4096}); err != nil {
		t.Fatal(err)
	}
	p := bytes.Repeat([]byte{9}, 3*4096)
	if _, err := d.WriteAt(p, 0); err != nil {
		t.Fatalf("the host's write failed with the area full: %v", err)
	}
	back := make([]byte, len(p))
	if _, err := d.ReadAt(back, 0); err != nil || !bytes.Equal(back, p) {
		t.Fatalf("the host's write was not kept: %v", err)
	}
	if _, err := readSnap(t, d, "a"); !errors.Is(err, ErrSnapshotInvalid) {
		t.Fatalf("reading a snapshot whose area filled: %v", err)
	}
	snaps, _ := d.Snapshots()
	if snaps[0].State != SnapshotInvalid || snaps[0].Reason == "" {
		t.Fatalf("%+v", snaps[0])
	}
	if _, err := os.Stat(d.trk.cowPath("a")); !os.IsNotExist(err) {
		t.Fatalf("the copy-on-write area was not freed: %v", err)
	}
	// The change map still counts.
	if ext, err := d.ChangedBlocks("a", ""); err != nil || len(ext) != 1 || ext[0] != (Extent{0, 24}) {
		t.Fatalf("changed blocks %v %v", ext, err)
	}
}

func TestSnapshotLease(t *testing.T) {
	d := newDisk(t, 1<<20, Options{})
	orig := fill(t, d, 4)
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	d.trk.clock = func() time.Time { return now }
	if _, err := d.Snapshot(SnapshotOptions{Name: "a", Lease: time.Minute}); err != nil {
		t.Fatal(err)
	}
	d.WriteAt(make([]byte, 4096), 0)
	now = now.Add(50 * time.Second)
	if _, err := d.RenewSnapshot("a", time.Minute); err != nil {
		t.Fatal(err)
	}
	now = now.Add(50 * time.Second)
	if got, err := readSnap(t, d, "a"); err != nil || !bytes.Equal(got, orig) {
		t.Fatalf("renewed snapshot: %v", err)
	}
	if names, err := d.ExpireSnapshots(); err != nil || len(names) != 0 {
		t.Fatalf("expired early: %v %v", names, err)
	}
	now = now.Add(11 * time.Second)
	if _, err := readSnap(t, d, "a"); !errors.Is(err, ErrSnapshotReleased) {
		t.Fatalf("read after the lease: %v", err)
	}
	if names, err := d.ExpireSnapshots(); err != nil || !slices.Equal(names, []string{"a"}) {
		t.Fatalf("expire: %v %v", names, err)
	}
	if _, err := os.Stat(d.trk.cowPath("a")); !os.IsNotExist(err) {
		t.Fatalf("an expired snapshot's area is kept: %v", err)
	}
	if _, err := d.RenewSnapshot("a", time.Minute); !errors.Is(err, ErrSnapshotReleased) {
		t.Fatalf("renewing a released snapshot: %v", err)
	}
	if ext, err := d.ChangedBlocks("a", ""); err != nil || len(ext) != 1 {
		t.Fatalf("the change map went with the lease: %v %v", ext, err)
	}
}

func TestChangedBlocks(t *testing.T) {
	d := newDisk(t, 1<<20, Options{BlockSize: 4096})
	write := func(chunk int) {
		if _, err := d.WriteAt([]byte{1}, int64(chunk)*4096+7); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range []string{"a", "b", "c"} {
		if _, err := d.Snapshot(SnapshotOptions{Name: n}); err != nil {
			t.Fatal(err)
		}
		switch n {
		case "a":
			write(1)
			write(2)
		case "b":
			write(5)
		case "c":
			write(2)
			write(200)
		}
	}
	if err := d.ReleaseSnapshot("a"); err != nil {
		t.Fatal(err)
	}
	check := func(from, to string, want ...Extent) {
		t.Helper()
		got, err := d.ChangedBlocks(from, to)
		if err != nil || !slices.Equal(got, want) {
			t.Fatalf("%s..%q: %v %v, want %v", from, to, got, err, want)
		}
	}
	check("a", "b", Extent{1, 2})
	check("a", "c", Extent{1, 2}, Extent{5, 1})
	check("a", "", Extent{1, 2}, Extent{5, 1}, Extent{200, 1})
	check("b", "", Extent{2, 1}, Extent{5, 1}, Extent{200, 1})
	check("c", "", Extent{2, 1}, Extent{200, 1})
	check("c", "c")
	if err := d.ForgetSnapshot("b"); err != nil {
		t.Fatal(err)
	}
	check("a", "c", Extent{1, 2}, Extent{5, 1})
	check("a", "", Extent{1, 2}, Extent{5, 1}, Extent{200, 1})
	if _, err := d.ChangedBlocks("b", ""); !errors.Is(err, ErrNoSnapshot) {
		t.Fatalf("forgotten snapshot: %v", err)
	}
	if _, err := d.ChangedBlocks("c", "a"); err == nil {
		t.Fatal("changes backwards in time")
	}
}

func TestSnapshotsSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	if _, err := Create(dir, "d", 1<<20, Options{}); err != nil {
		t.Fatal(err)
	}
	d, err := Open(dir, "d")
	if err != nil {
		t.Fatal(err)
	}
	orig := fill(t, d, 5)
	if _, err := d.Snapshot(SnapshotOptions{Name: "a"}); err != nil {
		t.Fatal(err)
	}
	d.WriteAt(bytes.Repeat([]byte{7}, 8192), 4096)
	if _, err := d.Snapshot(SnapshotOptions{Name: "b"}); err != nil {
		t.Fatal(err)
	}
	d.ReleaseSnapshot("b")
	d.WriteAt(bytes.Repeat([]byte{8}, 512), 0)
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	d, err = Open(dir, "d")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if got, err := readSnap(t, d, "a"); err != nil || !bytes.Equal(got, orig) {
		t.Fatalf("snapshot after a restart: %v", err)
	}
	snaps, err := d.Snapshots()
	if err != nil || len(snaps) != 2 || snaps[0].CowUsed != 3*4096 || snaps[1].State != SnapshotReleased {
		t.Fatalf("%+v %v", snaps, err)
	}
	if ext, err := d.ChangedBlocks("a", ""); err != nil || !slices.Equal(ext, []Extent{{0, 24}}) {
		t.Fatalf("%v %v", ext, err)
	}
	if _, err := d.Snapshot(SnapshotOptions{}); err != nil {
		t.Fatal(err)
	}
	if snaps, _ := d.Snapshots(); snaps[2].Name != "s3" {
		t.Fatalf("a third snapshot: %+v", snaps[2])
	}
}

func TestSnapshotOwner(t *testing.T) {
	dir := t.TempDir()
	if _, err := Create(dir, "d", 1<<20, Options{}); err != nil {
		t.Fatal(err)
	}
	owner, err := Open(dir, "d")
	if err != nil {
		t.Fatal(err)
	}
	defer owner.Close()
	guest, err := Open(dir, "d")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := guest.Snapshot(SnapshotOptions{}); !errors.Is(err, ErrBusy) {
		t.Fatalf("snapshot from a second opener: %v", err)
	}
	if _, err := guest.WriteAt([]byte{1}, 0); err != nil {
		t.Fatalf("a second opener without snapshots about: %v", err)
	}
	guest.Close()
	if _, err := owner.Snapshot(SnapshotOptions{Name: "a"}); err != nil {
		t.Fatal(err)
	}
	guest, err = Open(dir, "d")
	if err != nil {
		t.Fatal(err)
	}
	defer guest.Close()
	if _, err := guest.WriteAt([]byte{1}, 0); !errors.Is(err, ErrBusy) {
		t.Fatalf("a write bypassing an active snapshot: %v", err)
	}
}

// TestSnapshotKilled kills a process that writes to a disk with a
// snapshot at a random point: the snapshot, opened again, reads the
// image as it was. A restart of the machine in between (another boot id)
// invalidates it and marks the changes unknown.
func TestSnapshotKilled(t *testing.T) {
	if os.Getenv("FERRY_SNAPSHOT_CHILD") != "" {
		return
	}
	dir := t.TempDir()
	if _, err := Create(dir, "d", 1<<20, Options{}); err != nil {
		t.Fatal(err)
	}
	d, err := Open(dir, "d")
	if err != nil {
		t.Fatal(err)
	}
	orig := fill(t, d, 6)
	if _, err := d.Snapshot(SnapshotOptions{Name: "a", CowLimit: 1 << 20}); err != nil {
		t.Fatal(err)
	}
	d.Close()
	cmd := exec.Command(os.Args[0], "-test.run=^TestSnapshotChild$")
	cmd.Env = append(os.Environ(), "FERRY_SNAPSHOT_CHILD="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1)
	out.Read(buf) // the child writes
	time.Sleep(time.Duration(rand.IntN(20)) * time.Millisecond)
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()

	d, err = Open(dir, "d")
	if err != nil {
		t.Fatal(err)
	}
	got, err := readSnap(t, d, "a")
	if err != nil || !bytes.Equal(got, orig) {
		t.Fatalf("snapshot after the writer was killed: %v", err)
	}
	ext, err := d.ChangedBlocks("a", "")
	if err != nil || len(ext) == 0 {
		t.Fatalf("changes after the kill: %v %v", ext, err)
	}
	// Leave without a clean close, as a crash would, then come back
	// under another boot.
	d.trk.lock.Close()
	d.f.Close()
	boot := filepath.Join(t.TempDir(), "boot_id")
	os.WriteFile(boot, []byte("another-boot\n"), 0o600)
	old := bootIDPath
	bootIDPath = boot
	defer func() { bootIDPath = old }()
	d, err = Open(dir, "d")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := readSnap(t, d, "a"); !errors.Is(err, ErrSnapshotInvalid) {
		t.Fatalf("snapshot after a machine restart: %v", err)
	}
	if _, err := d.ChangedBlocks("a", ""); !errors.Is(err, ErrChangesUnknown) {
		t.Fatalf("changes after a machine restart: %v", err)
	}
}

// TestSnapshotChild is TestSnapshotKilled's writer: it rewrites random
// chunks of the disk until killed.
func TestSnapshotChild(t *testing.T) {
	dir := os.Getenv("FERRY_SNAPSHOT_CHILD")
	if dir == "" {
		t.Skip("run by TestSnapshotKilled")
	}
	d, err := Open(dir, "d")
	if err != nil {
		t.Fatal(err)
	}
	os.Stdout.Write([]byte{'.'})
	for i := 0; ; i++ {
		p := bytes.Repeat([]byte(strconv.Itoa(i%10)), 1024)
		d.WriteAt(p, int64(rand.IntN(1<<20/1024))*1024)
	}
}

func TestSnapshotRecordSample(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "snapshot-v1", "s1.json"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := parseSnapshot(b, "s1")
	if err != nil {
		t.Fatal(err)
	}
	if s.Seq != 1 || s.State != SnapshotReleased || s.CowLimit != 104857 || s.Disk != "vol1" || s.Size != 1<<20 {
		t.Fatalf("%+v", s)
	}
	b = bytes.Replace(b, []byte(`"version": 1`), []byte(`"version": 2`), 1)
	if _, err := parseSnapshot(b, "s1"); !errors.Is(err, ErrVersion) {
		t.Fatalf("a newer record: %v", err)
	}
}

func FuzzParseSnapshot(f *testing.F) {
	if b, err := os.ReadFile(filepath.Join("testdata", "snapshot-v1", "s1.json")); err == nil {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := parseSnapshot(b, "s1")
		if err != nil {
			return
		}
		if s.Name != "s1" || s.Seq == 0 || s.Version > SnapshotVersion || s.Size == 0 {
			t.Fatalf("accepted %+v", s)
		}
		_ = fmt.Sprint(s)
	})
}

// TestAsk runs snapshot requests on a disk another opener serves: they
// wait for it to answer, and errors keep their kind.
func TestAsk(t *testing.T) {
	dir := t.TempDir()
	if _, err := Create(dir, "d", 1<<20, Options{}); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	// Nobody serves: the asker does it itself.
	if r, err := Ask(ctx, dir, "d", SnapshotRequest{Op: "create", Snapshot: "a"}); err != nil || r.Snapshots[0].Name != "a" {
		t.Fatalf("create here: %+v %v", r, err)
	}
	server, err := Open(dir, "d")
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
				server.AnswerRequests()
			}
		}
	})
	defer func() { close(stop); wg.Wait() }()
	if r, err := Ask(ctx, dir, "d", SnapshotRequest{Op: "create", Snapshot: "b", Lease: time.Hour}); err != nil || r.Snapshots[0].Name != "b" {
		t.Fatalf("create through the server: %+v %v", r, err)
	}
	if snaps, _ := server.Snapshots(); len(snaps) != 2 || snaps[1].Name != "b" {
		t.Fatalf("the server does not hold b: %+v", snaps)
	}
	server.WriteAt([]byte{1}, 0)
	if r, err := Ask(ctx, dir, "d", SnapshotRequest{Op: "changed", Snapshot: "b"}); err != nil || !slices.Equal(r.Changed, []Extent{{0, 8}}) {
		t.Fatalf("changed: %+v %v", r, err)
	}
	if _, err := Ask(ctx, dir, "d", SnapshotRequest{Op: "release", Snapshot: "zz"}); !errors.Is(err, ErrNoSnapshot) {
		t.Fatalf("release of a missing snapshot: %v", err)
	}
	if _, err := Ask(ctx, dir, "d", SnapshotRequest{Op: "create", Snapshot: "b"}); !errors.Is(err, ErrSnapshotExists) {
		t.Fatalf("create twice: %v", err)
	}
}

// TestChangedBlocksAfterRestart: with two active snapshots, the changes
// between them and since the newer one are told apart after a restart
// (the older one's copy-on-write map holds changes of both periods).
func TestChangedBlocksAfterRestart(t *testing.T) {
	dir := t.TempDir()
	if _, err := Create(dir, "d", 1<<20, Options{BlockSize: 4096}); err != nil {
		t.Fatal(err)
	}
	d, err := Open(dir, "d")
	if err != nil {
		t.Fatal(err)
	}
	d.Snapshot(SnapshotOptions{Name: "a"})
	d.WriteAt([]byte{1}, 3*4096)
	d.Snapshot(SnapshotOptions{Name: "b"})
	d.WriteAt([]byte{1}, 9*4096)
	d.Close()
	if d, err = Open(dir, "d"); err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if got, err := d.ChangedBlocks("a", "b"); err != nil || !slices.Equal(got, []Extent{{3, 1}}) {
		t.Fatalf("a..b after a restart: %v %v", got, err)
	}
	if got, err := d.ChangedBlocks("b", ""); err != nil || !slices.Equal(got, []Extent{{9, 1}}) {
		t.Fatalf("b..now after a restart: %v %v", got, err)
	}
	d.ReleaseSnapshot("b")
	d.ReleaseSnapshot("a")
	if got, err := d.ChangedBlocks("a", ""); err != nil || !slices.Equal(got, []Extent{{3, 1}, {9, 1}}) {
		t.Fatalf("a..now after the releases: %v %v", got, err)
	}
}

func TestRemoveTakesSnapshots(t *testing.T) {
	dir := t.TempDir()
	if _, err := Create(dir, "d", 1<<20, Options{}); err != nil {
		t.Fatal(err)
	}
	if _, err := Ask(t.Context(), dir, "d", SnapshotRequest{Op: "create"}); err != nil {
		t.Fatal(err)
	}
	if err := Remove(dir, "d"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "d.snap")); !os.IsNotExist(err) {
		t.Fatalf("a removed disk's snapshots stay: %v", err)
	}
}
