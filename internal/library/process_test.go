package library

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"sync"
	"testing"

	"ferry/internal/changer"
)

// TestMain lets the test binary play a second ferry process.
func TestMain(m *testing.M) {
	if dir := os.Getenv("FERRY_LIBRARY_CHILD"); dir != "" {
		os.Exit(child(dir))
	}
	os.Exit(m.Run())
}

// child opens drive d0 of the library in dir, writes a record, says
// "open", and keeps the drive until stdin closes or it is killed.
func child(dir string) int {
	l, err := OpenWith(dir, small())
	if err != nil {
		fmt.Println("error:", err)
		return 1
	}
	m, err := l.OpenDrive("d0", false)
	if err != nil {
		fmt.Println("error:", err)
		return 1
	}
	m.WriteRecord([]byte("from the child"))
	fmt.Println("open")
	io.Copy(io.Discard, os.Stdin)
	l.CloseDrive("d0", m)
	return 0
}

// TestSecondProcess: a drive open in another process is busy here and
// cannot be unloaded; when that process dies, the drive is free.
func TestSecondProcess(t *testing.T) {
	dir := t.TempDir()
	l := openLib(t, dir, small())
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "FERRY_LIBRARY_CHILD="+dir)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	line, _ := bufio.NewReader(stdout).ReadString('\n')
	if line != "open\n" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("child: %q", line)
	}
	_, err := l.OpenDrive("d0", true)
	wantErr(t, "open drive held by child", err, ErrDeviceBusy)
	wantErr(t, "unload drive held by child", l.Move(0x0100, 0x0010), changer.ErrDriveInUse)
	wantErr(t, "other drive", l.Move(0x0101, 0x0010), nil)

	cmd.Process.Kill() // no clean close: the kernel drops its locks
	cmd.Wait()
	m, err := l.OpenDrive("d0", false)
	if err != nil {
		t.Fatalf("after the child died: %v", err)
	}
	buf := make([]byte, 100)
	if n, err := m.ReadRecord(buf); err != nil || string(buf[:n]) != "from the child" {
		t.Fatalf("child's record: %q, %v", buf[:n], err)
	}
	l.CloseDrive("d0", m)
}

// TestConcurrentMoves runs random moves from two libraries on one
// directory at once; the library must never lose or duplicate a
// cartridge.
func TestConcurrentMoves(t *testing.T) {
	dir := t.TempDir()
	libs := []*Library{openLib(t, dir, small()), openLib(t, dir, small())}
	els, _ := libs[0].Elements()
	var addrs []uint16
	for _, e := range els {
		addrs = append(addrs, e.Address)
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 1))
			l := libs[g%2]
			for range 100 {
				src, dst := addrs[rng.IntN(len(addrs))], addrs[rng.IntN(len(addrs))]
				l.Move(src, dst)
				if rng.IntN(10) == 0 {
					if m, err := l.OpenDrive("d1", true); err == nil {
						l.CloseDrive("d1", m)
					}
				}
			}
		}()
	}
	wg.Wait()
	els, err := libs[1].Elements()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, e := range els {
		if e.Full {
			if seen[e.Barcode] {
				t.Fatalf("%s twice", e.Barcode)
			}
			seen[e.Barcode] = true
		}
	}
	if len(seen) != 5 {
		t.Fatalf("%d cartridges after the moves, want 5: %v", len(seen), seen)
	}
}
