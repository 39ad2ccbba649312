package dma_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ferry/internal/dma"
	"ferry/internal/testsupport/fstree"
	"ferry/internal/testsupport/ndmjobtest"
)

// startNdmjob starts Amanda's `ndmjob -o test-daemon` (user and password
// "ndmp") and returns its agent; it exits when its stdin closes.
func startNdmjob(t *testing.T) dma.Agent {
	t.Helper()
	tool := ndmjobtest.Find(t)
	conf := filepath.Join(t.TempDir(), "ndmjob.conf")
	if err := os.WriteFile(conf, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cmd := exec.Command(tool.Binary, "-o", "test-daemon", "-p", fmt.Sprint(port), "-o", "config-file="+conf)
	cmd.Dir = t.TempDir()
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.Contains(line, "READY") {
		t.Fatalf("ndmjob test-daemon did not start: %q %v", line, err)
	}
	go io.Copy(io.Discard, stdout)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	return dma.Agent{Name: "ndmp@" + addr, Addr: addr, User: "ndmp", Password: "ndmp"}
}

// TestThreeWayNdmjobTape backs up from ferry's data service to the tape
// service of Amanda's ndmjob (a simulated tape file), twice, and restores
// both images read back through ndmjob's TAPE_READ.
func TestThreeWayNdmjobTape(t *testing.T) {
	data := newFixture(t)
	nj := startNdmjob(t)
	tapeFile := filepath.Join(t.TempDir(), "tape.sim")
	if err := os.WriteFile(tapeFile, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	src := data.dir(t, "src")
	fstree.Build(t, src, fstree.ManySmall(80, 3000))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var ids []int64
	for range 2 {
		b, err := dma.Backup(ctx, data.cat, dma.BackupSpec{Agent: data.agent, Tape: &nj, Drive: tapeFile, Path: src})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("backup %d at tape file %d, %d bytes", b.ID, b.Locations[0].FileNum, b.Bytes)
		ids = append(ids, b.ID)
	}
	for _, id := range ids {
		dest := filepath.Join(t.TempDir(), "dest")
		if _, err := dma.Restore(ctx, data.cat, dma.RestoreSpec{Agent: nj, Drive: tapeFile, BackupID: id, To: dest}); err != nil {
			t.Fatal(err)
		}
		fstree.Compare(t, src, dest, cmpOpts)
	}
}
