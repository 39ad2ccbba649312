package main

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ferry/internal/disk"
	"ferry/internal/iscsi/initiator"
	"ferry/internal/iscsi/target"
	"ferry/internal/library"
	"ferry/internal/scsi"
)

func runTargetCmd(t *testing.T, state string, args ...string) (string, error) {
	t.Helper()
	cmd := newTargetCommand(&globalOptions{state: state})
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), err
}

// TestTargetLsIsStable checks that the IQN is made once and kept.
func TestTargetLsIsStable(t *testing.T) {
	state := t.TempDir()
	first, err := runTargetCmd(t, state, "ls")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(first, "iqn.2026-01.dev.ferry:") {
		t.Fatalf("ls = %q", first)
	}
	again, _ := runTargetCmd(t, state, "ls")
	if again != first {
		t.Errorf("IQN changed: %q then %q", first, again)
	}
	fi, err := os.Stat(filepath.Join(state, targetStateFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("state file: %v %v", fi.Mode(), err)
	}
}

func TestTargetAllow(t *testing.T) {
	state := t.TempDir()
	secret := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(secret, []byte("a-secret-of-16-b\n"), 0o600)
	if _, err := runTargetCmd(t, state, "allow", "iqn.2026-01.org.example:host1", "--chap-secret-file", secret); err != nil {
		t.Fatal(err)
	}
	if _, err := runTargetCmd(t, state, "allow", "iqn.2026-01.org.example:host2", "--no-chap"); err != nil {
		t.Fatal(err)
	}
	if _, err := runTargetCmd(t, state, "allow", "not-a-name", "--no-chap"); err == nil {
		t.Error("bad initiator name accepted")
	}
	os.WriteFile(secret, []byte("short\n"), 0o600)
	_, err := runTargetCmd(t, state, "allow", "iqn.2026-01.org.example:host3", "--chap-secret-file", secret)
	if err == nil || !strings.Contains(err.Error(), "is 5 bytes; it must be 12 to 255") {
		t.Errorf("short CHAP secret: %v, want a refusal naming the length", err)
	}
	out, err := runTargetCmd(t, state, "ls")
	if err != nil || !strings.Contains(out, "host1  chap") || !strings.Contains(out, "host2  none") || strings.Contains(out, "host3") {
		t.Errorf("ls:\n%s %v", out, err)
	}
	cfg, err := targetConfig(state)
	if err != nil || len(cfg.ACL) != 2 || string(cfg.ACL[0].Secret) != "a-secret-of-16-b" || cfg.ACL[1].Secret != nil {
		t.Errorf("targetConfig = %+v, %v", cfg, err)
	}
}

// TestTargetAllowKeepsCHAP: allow without a secret file neither drops an
// initiator's CHAP secret nor adds an initiator without saying --no-chap.
func TestTargetAllowKeepsCHAP(t *testing.T) {
	state := t.TempDir()
	secret := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(secret, []byte("a-secret-of-16-b\n"), 0o600)
	const host = "iqn.2026-01.org.example:host1"
	if _, err := runTargetCmd(t, state, "allow", host, "--chap-secret-file", secret); err != nil {
		t.Fatal(err)
	}
	_, err := runTargetCmd(t, state, "allow", host)
	if err == nil || !strings.Contains(err.Error(), "--no-chap") {
		t.Errorf("allow without a secret of a CHAP initiator: %v, want a refusal naming --no-chap", err)
	}
	if out, _ := runTargetCmd(t, state, "ls"); !strings.Contains(out, "host1  chap") {
		t.Errorf("the CHAP secret was dropped:\n%s", out)
	}
	_, err = runTargetCmd(t, state, "allow", "iqn.2026-01.org.example:new")
	if err == nil || !strings.Contains(err.Error(), "--chap-secret-file") || !strings.Contains(err.Error(), "--no-chap") {
		t.Errorf("allow of a new initiator with neither flag: %v, want an error asking for one", err)
	}
	if _, err := runTargetCmd(t, state, "allow", host, "--chap-secret-file", secret, "--no-chap"); err == nil {
		t.Error("both --chap-secret-file and --no-chap accepted")
	}
	if _, err := runTargetCmd(t, state, "allow", host, "--no-chap"); err != nil {
		t.Fatal(err)
	}
	if out, _ := runTargetCmd(t, state, "ls"); !strings.Contains(out, "host1  none") || strings.Contains(out, "new") {
		t.Errorf("after --no-chap:\n%s", out)
	}
}

// TestISCSIServe runs the iSCSI side of `ferry serve` on a state
// directory: libiscsi's iscsi-ls sees the changer, the drives and a disk;
// a disk created while it runs appears on its LUN with REPORTED LUNS DATA
// HAS CHANGED.
func TestISCSIServe(t *testing.T) {
	state := t.TempDir()
	lib, err := library.Open(filepath.Join(state, "library"))
	if err != nil {
		t.Fatal(err)
	}
	defer lib.Close()
	disks := filepath.Join(state, "disks")
	if _, err := disk.Create(disks, "first", 1<<20, disk.Options{}); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	srv, err := startISCSI(state, lib, "127.0.0.1:0", 50*time.Millisecond, log)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Error(err)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := initiator.Dial(ctx, srv.Addr().String(), initiator.Config{TargetName: srv.Name()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	wantLUNs := []uint16{0}
	for i := range min(len(lib.DriveNames()), 4) {
		wantLUNs = append(wantLUNs, uint16(1+i))
	}
	if got := reportLUNs(t, ctx, s); !bytes.Equal(got, scsi.ReportLUNsData(append(wantLUNs, 5))) {
		t.Errorf("REPORT LUNS = %x", got)
	}
	if out, err := exec.Command("iscsi-ls", "-s", "iscsi://"+srv.Addr().String()).CombinedOutput(); err == nil {
		for _, want := range []string{"MEDIA_CHANGER", "SEQUENTIAL_ACCESS", "DIRECT_ACCESS"} {
			if !strings.Contains(string(out), want) {
				t.Errorf("iscsi-ls lacks %s:\n%s", want, out)
			}
		}
	}
	// A second disk appears on LUN 6 with a unit attention.
	if _, err := disk.Create(disks, "second", 1<<20, disk.Options{}); err != nil {
		t.Fatal(err)
	}
	for {
		r, err := s.Execute(ctx, 5, make([]byte, 6), nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		if sense, _ := scsi.ParseSense(r.Sense); sense != nil && sense.ASC == 0x3F && sense.ASCQ == 0x0E {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := reportLUNs(t, ctx, s); !bytes.Equal(got, scsi.ReportLUNsData(append(wantLUNs, 5, 6))) {
		t.Errorf("REPORT LUNS after the new disk = %x", got)
	}
}

func reportLUNs(t *testing.T, ctx context.Context, s *initiator.Session) []byte {
	t.Helper()
	r, err := s.Execute(ctx, 0, []byte{0xA0, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0}, nil, 1024)
	if err != nil || r.Status != 0 {
		t.Fatalf("REPORT LUNS: %v %+v", err, r)
	}
	return r.Data
}

// TestSyncDisksRecreatedName: a disk removed and created again under the
// same name is a new disk (new NAA, new image) and replaces the old one on
// its LUN.
func TestSyncDisksRecreatedName(t *testing.T) {
	dir := t.TempDir()
	s := &iscsiServer{units: target.NewUnitSet(), disks: map[string]*servedDisk{}}
	log := slog.New(slog.DiscardHandler)
	m1, err := disk.Create(dir, "vol", 1<<20, disk.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.syncDisks(dir, []disk.Meta{m1}, "iqn.test", log)
	lun := uint64(firstDiskLUN + m1.Index)
	first, ok := s.units.Unit(lun)
	if !ok || first == nil {
		t.Fatalf("disk not served on LUN %d", lun)
	}
	if err := disk.Remove(dir, "vol"); err != nil {
		t.Fatal(err)
	}
	m2, err := disk.Create(dir, "vol", 2<<20, disk.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if m2.NAA == m1.NAA {
		t.Fatalf("recreated disk kept its NAA %s", m1.NAA)
	}
	s.syncDisks(dir, []disk.Meta{m2}, "iqn.test", log)
	second, ok := s.units.Unit(uint64(firstDiskLUN + m2.Index))
	if !ok || second == nil || second == first {
		t.Fatalf("LUN still serves the removed disk (ok %v)", ok)
	}
	if len(s.disks) != 1 || s.disks[m2.NAA] == nil {
		t.Errorf("served disks: %v", s.disks)
	}
	for _, sd := range s.disks {
		sd.d.Close()
	}
}

func TestTargetName(t *testing.T) {
	state := t.TempDir()
	if _, err := runTargetCmd(t, state, "name", "iqn.2005-03.com.example:backup-1"); err != nil {
		t.Fatal(err)
	}
	out, err := runTargetCmd(t, state, "ls")
	if err != nil || !strings.HasPrefix(out, "iqn.2005-03.com.example:backup-1\n") {
		t.Fatalf("ls after name = %q, %v", out, err)
	}
	for _, bad := range []string{
		"iqn.2005-13.com.example:x", "iqn.05-03.com.example", "iqn.2005-03", "IQN.2005-03.com.example",
		"iqn.2005-03.com.Example:x", "eui.0123", "naa.0123456789abcdeg", "host1", "iqn.2005-03.com.example:a b",
	} {
		if _, err := runTargetCmd(t, state, "name", bad); err == nil {
			t.Errorf("name %q accepted", bad)
		}
	}
	for _, good := range []string{"eui.02004567a425678d", "naa.52004567ba64678d", "naa.52004567ba64678d0123456789abcdef", "iqn.2001-04.com.example"} {
		if _, err := runTargetCmd(t, state, "name", good); err != nil {
			t.Errorf("name %q: %v", good, err)
		}
	}
	out, _ = runTargetCmd(t, state, "ls")
	if !strings.HasPrefix(out, "iqn.2001-04.com.example\n") {
		t.Errorf("ls = %q", out)
	}
}
