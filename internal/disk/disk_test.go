package disk

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

func TestCreateOpenList(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "disks")
	m, err := Create(dir, "vol1", 8<<20, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if m.BlockSize != 512 || m.Blocks() != 16384 || !m.Thin || len(m.NAA) != 16 || m.NAA[0] != '3' {
		t.Fatalf("meta %+v", m)
	}
	if _, err := Create(dir, "vol1", 8<<20, Options{}); !errors.Is(err, ErrExists) {
		t.Fatalf("second create: %v, want ErrExists", err)
	}
	if _, err := Create(dir, "vol0", 1<<20, Options{BlockSize: 4096}); err != nil {
		t.Fatal(err)
	}
	list, err := List(dir)
	if err != nil || len(list) != 2 || list[0].Name != "vol0" || list[1].Name != "vol1" {
		t.Fatalf("List: %+v, %v", list, err)
	}
	if list[1].NAA != m.NAA {
		t.Fatalf("NAA changed: %s then %s", m.NAA, list[1].NAA)
	}
	fi, err := os.Stat(filepath.Join(dir, "vol1.img"))
	if err != nil || fi.Size() != 8<<20 {
		t.Fatalf("image: %v, %v", fi, err)
	}
	d, err := Open(dir, "vol1")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if d.Name() != "vol1" || d.Blocks() != 16384 || d.BlockSize() != 512 || !bytes.Equal(d.NAA(), m.naa()) {
		t.Fatalf("opened %v", d)
	}
}

func TestListMissingDir(t *testing.T) {
	list, err := List(filepath.Join(t.TempDir(), "nothing"))
	if err != nil || len(list) != 0 {
		t.Fatalf("%v, %v", list, err)
	}
}

func TestBadArguments(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name string
		size int64
		opts Options
		want error
	}{
		{"", 4096, Options{}, ErrBadName},
		{"a/b", 4096, Options{}, ErrBadName},
		{"..", 4096, Options{}, ErrBadName},
		{"-x", 4096, Options{}, ErrBadName},
		{"ok", 0, Options{}, ErrBadSize},
		{"ok", 1000, Options{}, ErrBadSize},
		{"ok", 4096, Options{BlockSize: 1024}, ErrBadBlock},
		{"ok", 512, Options{BlockSize: 4096}, ErrBadSize},
	}
	for _, c := range cases {
		if _, err := Create(dir, c.name, c.size, c.opts); !errors.Is(err, c.want) {
			t.Errorf("Create(%q, %d, %+v): %v, want %v", c.name, c.size, c.opts, err, c.want)
		}
	}
	if _, err := Open(dir, "none"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Open missing: %v", err)
	}
}

func TestReadWriteBounds(t *testing.T) {
	d := newDisk(t, 1<<20, Options{})
	p := bytes.Repeat([]byte{0xAB}, 4096)
	if _, err := d.WriteAt(p, 1<<20-4096); err != nil {
		t.Fatal(err)
	}
	if _, err := d.WriteAt(p, 1<<20-4095); !errors.Is(err, ErrOutOfBounds) {
		t.Fatalf("write past the end: %v", err)
	}
	got := make([]byte, 4096)
	if _, err := d.ReadAt(got, 1<<20-4096); err != nil || !bytes.Equal(got, p) {
		t.Fatalf("read back: %v", err)
	}
	if _, err := d.ReadAt(got, -1); !errors.Is(err, ErrOutOfBounds) {
		t.Fatalf("negative offset: %v", err)
	}
}

// newDisk creates and opens a disk in a temporary directory.
func newDisk(t *testing.T, size int64, opts Options) *Disk {
	t.Helper()
	dir := t.TempDir()
	if _, err := Create(dir, "d", size, opts); err != nil {
		t.Fatal(err)
	}
	d, err := Open(dir, "d")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func TestExtentSeesOtherWriters(t *testing.T) {
	dir := t.TempDir()
	if _, err := Create(dir, "d", 4<<20, Options{}); err != nil {
		t.Fatal(err)
	}
	d, err := Open(dir, "d")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if mapped, n, err := d.Extent(0, 4<<20); err != nil || mapped || n != 4<<20 {
		t.Fatalf("new disk: mapped=%v n=%d %v", mapped, n, err)
	}
	// Another writer (as if ferry were down) fills 1 MiB at 1 MiB.
	f, err := os.OpenFile(filepath.Join(dir, "d.img"), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(bytes.Repeat([]byte{1}, 1<<20), 1<<20); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if mapped, n, _ := d.Extent(0, 4<<20); mapped || n != 1<<20 {
		t.Fatalf("before the write: mapped=%v n=%d", mapped, n)
	}
	if mapped, n, _ := d.Extent(1<<20, 3<<20); !mapped || n != 1<<20 {
		t.Fatalf("the write: mapped=%v n=%d", mapped, n)
	}
	if err := d.Deallocate(1<<20, 512<<10); err != nil {
		t.Fatal(err)
	}
	if mapped, n, _ := d.Extent(1<<20, 3<<20); mapped || n != 512<<10 {
		t.Fatalf("after punching: mapped=%v n=%d", mapped, n)
	}
	got := make([]byte, 512<<10)
	if _, err := d.ReadAt(got, 1<<20); err != nil || !bytes.Equal(got, make([]byte, len(got))) {
		t.Fatalf("punched range does not read zeros: %v", err)
	}
}

func TestThick(t *testing.T) {
	d := newDisk(t, 1<<20, Options{Thick: true})
	if d.Thin() {
		t.Fatal("thick disk reports thin")
	}
	if mapped, n, err := d.Extent(0, 1<<20); err != nil || !mapped || n != 1<<20 {
		t.Fatalf("thick disk: mapped=%v n=%d %v", mapped, n, err)
	}
	fi, err := d.f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Blocks*512 < 1<<20 {
		t.Fatalf("thick image holds %d bytes, want all 1 MiB allocated", st.Blocks*512)
	}
}

func TestAttach(t *testing.T) {
	src := filepath.Join(t.TempDir(), "raw.img")
	if err := os.WriteFile(src, bytes.Repeat([]byte{7}, 64<<10), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	m, err := Create(dir, "att", 0, Options{From: src})
	if err != nil {
		t.Fatal(err)
	}
	if m.Size != 64<<10 || m.Image != src {
		t.Fatalf("attached meta %+v", m)
	}
	if _, err := os.Stat(filepath.Join(dir, "att.img")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("attach made an image file: %v", err)
	}
	d, err := Open(dir, "att")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	b := make([]byte, 512)
	if _, err := d.ReadAt(b, 512); err != nil || b[0] != 7 {
		t.Fatalf("attached read: %v % x", err, b[:4])
	}
	if _, err := Create(dir, "odd", 0, Options{From: writeFile(t, 1000)}); !errors.Is(err, ErrBadSize) {
		t.Fatalf("odd-sized image: %v", err)
	}
	m, err = Create(dir, "grown", 1<<20, Options{From: writeFile(t, 4096)})
	if err != nil || m.Size != 1<<20 {
		t.Fatalf("grown: %+v %v", m, err)
	}
}

// writeFile writes an n-byte file and returns its path.
func writeFile(t *testing.T, n int) string {
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, make([]byte, n), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSidecarVersions(t *testing.T) {
	dir := t.TempDir()
	m, err := Create(dir, "v", 4096, Options{Now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	m.Version = Version + 1
	b, _ := json.Marshal(m)
	if err := os.WriteFile(sidecarPath(dir, "v"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir, "v"); !errors.Is(err, ErrVersion) {
		t.Fatalf("newer sidecar: %v", err)
	}
	if list, err := List(dir); len(list) != 0 || !errors.Is(err, ErrVersion) {
		t.Fatalf("List with a newer sidecar: %v %v", list, err)
	}
}

// TestVersion1Sample keeps a version 1 sidecar readable forever.
func TestVersion1Sample(t *testing.T) {
	m, err := readMeta(filepath.Join("testdata", "v1", "sample.json"))
	if err != nil {
		t.Fatal(err)
	}
	if m.Name != "sample" || m.Blocks() != 2048 || m.NAA != "3a1b2c3d4e5f6071" || !m.Thin || m.Index != 3 {
		t.Fatalf("%+v", m)
	}
}

func FuzzReadMeta(f *testing.F) {
	if b, err := os.ReadFile(filepath.Join("testdata", "v1", "sample.json")); err == nil {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		dir := t.TempDir()
		p := filepath.Join(dir, "sample.json")
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		m, err := readMeta(p)
		if err != nil {
			return
		}
		if m.check() != nil || m.Blocks() == 0 || len(m.naa()) != 8 {
			t.Fatalf("accepted a bad sidecar: %+v", m)
		}
	})
}

func TestIndexes(t *testing.T) {
	dir := t.TempDir()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			if _, err := Create(dir, fmt.Sprintf("d%d", i), 4096, Options{}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	list, err := List(dir)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for _, m := range list {
		if seen[m.Index] || m.Index >= 8 {
			t.Fatalf("indexes of concurrently created disks: %+v", list)
		}
		seen[m.Index] = true
	}
	// A freed index is the next one given.
	victim := list[3]
	os.Remove(sidecarPath(dir, victim.Name))
	m, err := Create(dir, "late", 4096, Options{})
	if err != nil || m.Index != victim.Index {
		t.Fatalf("new disk index %d, want the freed %d (%v)", m.Index, victim.Index, err)
	}
}

func TestReservationsFile(t *testing.T) {
	d := newDisk(t, 4096, Options{})
	if b, err := d.LoadReservations(); b != nil || err != nil {
		t.Fatalf("new disk: %q %v", b, err)
	}
	if err := d.SaveReservations([]byte(`{"a":1}`)); err != nil {
		t.Fatal(err)
	}
	if b, err := d.LoadReservations(); string(b) != `{"a":1}` || err != nil {
		t.Fatalf("load: %q %v", b, err)
	}
	if list, err := List(filepath.Dir(d.path)); err != nil || len(list) != 1 {
		t.Fatalf("the reservations file disturbs List: %v %v", list, err)
	}
	if err := d.SaveReservations(nil); err != nil {
		t.Fatal(err)
	}
	if b, _ := d.LoadReservations(); b != nil {
		t.Fatal("state survives removal")
	}
	if err := d.SaveReservations(nil); err != nil {
		t.Fatalf("removing twice: %v", err)
	}
}

func TestRemove(t *testing.T) {
	dir := t.TempDir()
	if _, err := Create(dir, "own", 4096, Options{}); err != nil {
		t.Fatal(err)
	}
	src := writeFile(t, 8192)
	if _, err := Create(dir, "att", 0, Options{From: src}); err != nil {
		t.Fatal(err)
	}
	d, err := Open(dir, "own")
	if err != nil {
		t.Fatal(err)
	}
	if err := d.SaveReservations([]byte("{}")); err != nil {
		t.Fatal(err)
	}
	d.Close()
	for _, n := range []string{"own", "att"} {
		if err := Remove(dir, n); err != nil {
			t.Fatalf("Remove %s: %v", n, err)
		}
	}
	if _, err := os.Stat(src); err != nil {
		t.Fatalf("Remove deleted an attached image: %v", err)
	}
	left, _ := filepath.Glob(filepath.Join(dir, "*"))
	if len(left) != 1 || filepath.Base(left[0]) != ".lock" {
		t.Fatalf("left behind: %v", left)
	}
	if err := Remove(dir, "own"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second Remove: %v", err)
	}
	if err := Remove(dir, "../x"); !errors.Is(err, ErrBadName) {
		t.Fatalf("Remove of a bad name: %v", err)
	}
}
