package main

import (
	"bufio"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"ferry/internal/format"
	"ferry/internal/testsupport/fstree"
	"ferry/internal/view"
)

// killLoopFor bounds each half of TestKillLoop.
const killLoopFor = 12 * time.Second

// TestKillLoop kills `ferry backup DIR` and, in its second half, the
// `ferry serve` a backup goes through, with SIGKILL at random moments.
// Afterwards no job or backup is left running, every backup the catalog
// calls complete restores identical to the source, and the next backup
// appends after them.
func TestKillLoop(t *testing.T) {
	bin := ferryBinary(t)
	exported := t.TempDir()
	src := filepath.Join(exported, "src")
	must(t, os.Mkdir(src, 0o755))
	spec := append(fstree.ManySmall(300, 3000), fstree.Node{Path: "big", Type: format.Regular, Size: 24 << 20, Seed: 7})
	fstree.Build(t, src, spec)
	c := cli{t: t, bin: bin, state: t.TempDir()}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))

	// A clean run times a backup; kills land anywhere up to 1.5 times it.
	start := time.Now()
	c.backup(src)
	took := time.Since(start)
	t.Logf("a backup takes %v", took)
	kills := 0
	for end := time.Now().Add(killLoopFor); time.Now().Before(end); {
		cmd := exec.Command(bin, "--state", c.state, "backup", src, "--json")
		must(t, cmd.Start())
		time.Sleep(time.Duration(rng.Int64N(int64(took) * 3 / 2)))
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		kills++
	}

	// The served agent, restarted on one address after every kill.
	agentState := t.TempDir()
	pwFile := filepath.Join(t.TempDir(), "pw")
	must(t, os.WriteFile(pwFile, []byte("kill-loop-password\n"), 0o600))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	addr := ln.Addr().String()
	ln.Close()
	serve := func() *exec.Cmd {
		t.Helper()
		s := exec.Command(bin, "serve", "--state", agentState, "--ndmp", addr, "--export", exported,
			"--ndmp-password-file", pwFile, "--log-level", "error")
		stderr, err := s.StderrPipe()
		must(t, err)
		must(t, s.Start())
		sc := bufio.NewScanner(stderr)
		if !sc.Scan() {
			t.Fatalf("ferry serve printed nothing: %v", sc.Err())
		}
		go func() {
			for sc.Scan() {
			}
		}()
		return s
	}
	remote := "ndmp://ndmp@" + addr + src
	s := serve()
	c.backup(remote, "--password-file", pwFile)
	for end := time.Now().Add(killLoopFor); time.Now().Before(end); {
		b := exec.Command(bin, "--state", c.state, "backup", remote, "--password-file", pwFile, "--json")
		must(t, b.Start())
		time.Sleep(time.Duration(rng.Int64N(int64(took) * 3 / 2)))
		s.Process.Signal(syscall.SIGKILL)
		s.Wait()
		done := make(chan error, 1)
		go func() { done <- b.Wait() }()
		select {
		case <-done:
		case <-time.After(time.Minute):
			b.Process.Kill()
			t.Fatalf("a backup whose agent was killed did not end")
		}
		kills++
		s = serve()
	}
	defer func() {
		s.Process.Signal(os.Interrupt)
		s.Wait()
	}()
	t.Logf("%d kills", kills)

	// Nothing stays running; every complete backup restores identically.
	var jobs []view.Job
	c.runJSON(&jobs, "jobs")
	for _, j := range jobs {
		if j.State == "running" || j.State == "cancelling" || j.State == "queued" {
			t.Errorf("job %d still %s", j.ID, j.State)
		}
	}
	var backups []struct {
		backupDoc
		Agent string `json:"agent"`
	}
	c.runJSON(&backups, "backups")
	restored := 0
	for _, b := range backups {
		switch b.Status {
		case "running":
			t.Errorf("backup %d still running", b.ID)
		case "succeeded", "completed_with_warnings":
			dest := filepath.Join(t.TempDir(), "dest")
			c.run("restore", itoa(b.ID), "--to", dest, "--password-file", pwFile)
			fstree.Compare(t, src, dest, treeOpts)
			restored++
		}
	}
	t.Logf("%d backups, %d complete and restored", len(backups), restored)
	for _, what := range []string{src, remote} {
		var b struct {
			backupDoc
			Agent string `json:"agent"`
		}
		c.runJSON(&b, "backup", what, "--password-file", pwFile)
		if b.Status != "succeeded" || len(b.Locations) == 0 {
			t.Fatalf("backup of %s after the kills: %+v", what, b)
		}
		for _, o := range backups {
			if o.Agent == b.Agent && len(o.Locations) > 0 && o.Locations[0].Barcode == b.Locations[0].Barcode &&
				o.Locations[0].File >= b.Locations[0].File {
				t.Errorf("backup %d at %+v does not append after backup %d at %+v", b.ID, b.Locations, o.ID, o.Locations)
			}
		}
		dest := filepath.Join(t.TempDir(), "dest")
		c.run("restore", itoa(b.ID), "--to", dest, "--password-file", pwFile)
		fstree.Compare(t, src, dest, treeOpts)
	}
}
