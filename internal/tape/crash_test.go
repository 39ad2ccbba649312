package tape

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"ferry/internal/tape/store"
)

// TestTornTailAtEveryOffset cuts a cartridge at every byte offset and
// checks that opening it finds exactly the objects whose entry and
// payload both lie wholly before the cut (and all objects before them),
// whatever the header slots say, and reads them back. The slots were
// synced, so a cut short of the end lost data: the cartridge reports the
// damage where the data ends and refuses writers. The tiny geometry puts
// the 13 objects in four segments.
func TestTornTailAtEveryOffset(t *testing.T) {
	forEachBacking(t, testTornTailAtEveryOffset)
}

func testTornTailAtEveryOffset(t *testing.T, s store.Store) {
	m := newCart(t, s, 1<<30, tiny).openRW(t)
	type span struct {
		entryEnd, dataEnd int64
		empty             bool
	}
	var objs []span
	for i := range 13 {
		c := m.pos
		if i == 5 {
			m.WriteFilemarks(1)
		} else {
			m.WriteRecord(expectedRecord(i))
		}
		n := int64(len(expectedRecord(i)))
		objs = append(objs, span{m.geo.entryOff(&c) + entryLen, c.data + n, n == 0})
	}
	// The slots now point at the end; a cut anywhere makes them lie.
	m.sync()
	full := cart{s, "FRY001L8"}.image(t)
	for size := int64(pageLen); size <= int64(len(full)); size++ {
		cut := putCart(t, s, "CUT", full[:size])
		want := uint64(0)
		for _, o := range objs {
			if o.entryEnd > size || !o.empty && o.dataEnd > size {
				break
			}
			want++
		}
		r, err := cut.open(true)
		if err != nil {
			t.Fatalf("cut at %d: %v", size, err)
		}
		if got := r.EndOfData().Block; got != want {
			t.Fatalf("cut at %d: %d objects, want %d", size, got, want)
		}
		d := r.Damage()
		switch {
		case want == 13 && d != nil:
			t.Fatalf("cut at %d: whole cartridge taken for damaged: %v", size, d)
		case want < 13 && (d == nil || d.End.Block != want || d.Claimed != 13):
			t.Fatalf("cut at %d: damage %v, want data ending at block %d of 13", size, d, want)
		}
		checkReadable(t, r, want)
		r.Close()
		if w, err := cut.open(false); want < 13 && !errors.Is(err, ErrDamaged) {
			t.Fatalf("cut at %d: writable open of a damaged cartridge: %v", size, err)
		} else if err == nil {
			w.Close()
		}
	}
}

// checkReadable reads n objects from BOT and checks each record's bytes.
func checkReadable(t *testing.T, m *Medium, n uint64) {
	t.Helper()
	buf := make([]byte, 4096)
	m.Rewind()
	for i := range n {
		got, err := m.ReadRecord(buf)
		if errors.Is(err, ErrFilemark) {
			continue
		}
		if err != nil {
			t.Fatalf("object %d: %v", i, err)
		}
		if !bytes.Equal(buf[:got], expectedRecord(int(i))) {
			t.Fatalf("object %d: data differs", i)
		}
	}
	want := ErrEndOfData
	if m.Damage() != nil {
		want = ErrDamaged // the rest was lost, not never written
	}
	if _, err := m.ReadRecord(buf); !errors.Is(err, want) {
		t.Fatalf("after %d objects: %v, want %v", n, err, want)
	}
}

// expectedRecord is what TestTornTailAtEveryOffset wrote as object i.
func expectedRecord(i int) []byte {
	if i == 5 {
		return nil
	}
	return pattern(10+i*29, i)
}

// TestWriteRepairsTornTail: a writer that opens a cartridge with a torn
// frame at the end, written after the last sync, overwrites the torn bytes.
func TestWriteRepairsTornTail(t *testing.T) {
	forEachBacking(t, testWriteRepairsTornTail)
}

func testWriteRepairsTornTail(t *testing.T, s store.Store) {
	c := newCart(t, s, 1<<30, defaultGeo)
	m := c.openRW(t)
	m.WriteRecord(pattern(100, 0))
	m.WriteFilemarks(0)
	m.WriteRecord(pattern(100, 1))
	m.c.Close() // a crash: the second record was never synced
	m.closed = true
	img := c.image(t)
	putCart(t, s, c.barcode, img[:len(img)-5])
	m = c.openRW(t)
	m.SpaceToEndOfData()
	wantPos(t, m, 1, 0, 1)
	wantErr(t, "write", m.WriteRecord(pattern(7, 2)), nil)
	m.Close()
	m = c.openRW(t)
	buf := make([]byte, 200)
	m.ReadRecord(buf)
	if n, err := m.ReadRecord(buf); err != nil || !bytes.Equal(buf[:n], pattern(7, 2)) {
		t.Fatalf("record after repair: %d, %v", n, err)
	}
}

// The child half of TestKilledWriter: write records until killed.
func TestMain(m *testing.M) {
	if path := os.Getenv("FERRY_TAPE_CHILD"); path != "" {
		os.Exit(childWriter(path))
	}
	os.Exit(m.Run())
}

// childWriter writes records of 1..200 KiB forever, reporting each
// completed one on stdout.
func childWriter(path string) int {
	m, err := Open(path, false)
	if err != nil {
		fmt.Println("open:", err)
		return 1
	}
	out := bufio.NewWriter(os.Stdout)
	for i := 0; ; i++ {
		if err := m.WriteRecord(killedRecord(i)); err != nil {
			fmt.Println("write:", err)
			return 1
		}
		fmt.Fprintln(out, i)
		out.Flush()
	}
}

func killedRecord(i int) []byte { return pattern(1+(i*7919)%(200<<10), i) }

// TestKilledWriter kills a writing process at a random moment and checks
// that every record it reported written reads back.
func TestKilledWriter(t *testing.T) {
	for round := range 3 {
		path := newCartridge(t, 1<<40)
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "FERRY_TAPE_CHILD="+path)
		stdout, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(stdout)
		done := -1
		deadline := time.Now().Add(time.Duration(100+round*150) * time.Millisecond)
		for sc.Scan() {
			n, err := strconv.Atoi(sc.Text())
			if err != nil {
				t.Fatalf("child: %s", sc.Text())
			}
			done = n
			if n == 50 {
				readPrefix(t, path, n+1)
			}
			if time.Now().After(deadline) {
				break
			}
		}
		cmd.Process.Kill()
		cmd.Wait()
		m, err := Open(path, true)
		if err != nil {
			t.Fatal(err)
		}
		end := m.EndOfData().Block
		if end < uint64(done+1) {
			t.Fatalf("child reported %d records, cartridge has %d", done+1, end)
		}
		buf := make([]byte, 200<<10)
		for i := range int(end) {
			n, err := m.ReadRecord(buf)
			if err != nil || !bytes.Equal(buf[:n], killedRecord(i)) {
				t.Fatalf("record %d of %d: %v", i, end, err)
			}
		}
		m.Close()
		t.Logf("round %d: killed after %d reported records, %d on tape", round, done+1, end)
	}
}

// readPrefix opens the cartridge a child process is writing and checks
// that it sees at least min records, every one of them intact.
func readPrefix(t *testing.T, path string, min int) {
	t.Helper()
	r, err := Open(path, true)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	end := r.EndOfData().Block
	if end < uint64(min) {
		t.Fatalf("reader beside the writer sees %d records, want at least %d", end, min)
	}
	buf := make([]byte, 200<<10)
	for i := range int(end) {
		n, err := r.ReadRecord(buf)
		if err != nil || !bytes.Equal(buf[:n], killedRecord(i)) {
			t.Fatalf("reader beside the writer, record %d of %d: %v", i, end, err)
		}
	}
}

// TestReaderBesideWriter: a read-only open sees what the writer completed,
// and more as the writer goes on.
// On a store that shows other opens only synced data, the reader sees the
// records once the writer syncs (WriteFilemarks(0)).
func TestReaderBesideWriter(t *testing.T) {
	for _, b := range backings {
		t.Run(b.name, func(t *testing.T) { testReaderBesideWriter(t, b.new(t), b.seesUnsynced) })
	}
}

func testReaderBesideWriter(t *testing.T, s store.Store, seesUnsynced bool) {
	c := newCart(t, s, 1<<30, defaultGeo)
	w := c.openRW(t)
	publish := func() {
		if !seesUnsynced {
			wantErr(t, "sync", w.WriteFilemarks(0), nil)
		}
	}
	for i := range 100 {
		w.WriteRecord(pattern(1000, i))
	}
	publish()
	r, err := c.open(true)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	buf := make([]byte, 2000)
	read := func(from, to int) {
		t.Helper()
		for i := from; i < to; i++ {
			n, err := r.ReadRecord(buf)
			if err != nil || !bytes.Equal(buf[:n], pattern(1000, i)) {
				t.Fatalf("reader record %d: %v", i, err)
			}
		}
	}
	read(0, 100)
	if _, err := r.ReadRecord(buf); !errors.Is(err, ErrEndOfData) {
		t.Fatalf("reader at end: %v", err)
	}
	for i := 100; i < 5000; i++ {
		w.WriteRecord(pattern(1000, i))
	}
	publish()
	read(100, 5000)
	w.WriteFilemarks(1)
	if _, err := r.ReadRecord(buf); !errors.Is(err, ErrFilemark) {
		t.Fatalf("reader at filemark: %v", err)
	}
	if n, err := r.SpaceFilemarks(-1); n != 1 || err != nil {
		t.Fatalf("reader BSF: %d, %v", n, err)
	}
	wantPos(t, r, 5000, 0, 5000)
}
