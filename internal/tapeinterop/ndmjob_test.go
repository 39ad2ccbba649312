package tapeinterop

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ferry/internal/library"
	"ferry/internal/scsi"
	"ferry/internal/scsi/ssc"
	"ferry/internal/testsupport/fstree"
	"ferry/internal/testsupport/ndmjobtest"
	"ferry/internal/testsupport/ndmptest"
)

// TestNdmjobBackupOverISCSI is the round trip with a real backup: ndmjob
// (Amanda's reference DMA) backs a tree up with ferry's tar engine to
// tape0 through NDMP; the backup read through tape0's SSC LU over iSCSI
// equals what NDMP wrote, record by record; written through tape1's SSC LU
// over iSCSI it is restored by ndmjob through NDMP from tape1, and the
// restored tree equals the original.
func TestNdmjobBackupOverISCSI(t *testing.T) {
	tool := ndmjobtest.Find(t)
	dir := t.TempDir()
	lib, err := library.Open(filepath.Join(dir, "library"))
	if err != nil {
		t.Fatal(err)
	}
	export := filepath.Join(dir, "export")
	src, dst := filepath.Join(export, "src"), filepath.Join(export, "dst")
	for _, d := range []string{src, dst} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	fstree.Build(t, src, fstree.Everything())
	addr := serveNDMP(t, lib, export)
	tape0, tape1 := ssc.New(lib, "tape0", ssc.Identity{}), ssc.New(lib, "tape1", ssc.Identity{})
	s := dialTarget(t, units{1: tape0, 2: tape1})
	lu0, lu1 := newRemote(s, 1), newRemote(s, 2)
	clearAttention(t, lu0)
	clearAttention(t, lu1)
	t.Cleanup(func() { tape0.Close(); tape1.Close() })

	agent := fmt.Sprintf("%s/4m,%s,%s", addr, testUser, testPassword)
	run := func(args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
		defer cancel()
		r := tool.Run(ctx, t, args...)
		if r.ExitCode != 0 || !strings.Contains(r.Output, "Operation ended OKAY") {
			t.Fatalf("ndmjob %q: exit %d\n%s", args, r.ExitCode, r.Output)
		}
		return r.Output
	}
	run("-c", "-D", agent, "-B", "tar", "-C", src, "-f", "tape0")

	var wrote bytes.Buffer
	if _, err := lib.CatFile(context.Background(), "tape0", 0, &wrote); err != nil {
		t.Fatal(err)
	}
	records := readFile(t, lu0)
	if got := bytes.Join(records, nil); !bytes.Equal(got, wrote.Bytes()) || len(got) == 0 {
		t.Fatalf("tape0 over iSCSI: %d bytes in %d records; NDMP wrote %d", len(got), len(records), wrote.Len())
	}
	mustRun(t, lu0, []byte{0x01, 0, 0, 0, 0, 0}, nil)

	for _, rec := range records {
		n := len(rec)
		mustRun(t, lu1, []byte{0x0A, 0, byte(n >> 16), byte(n >> 8), byte(n), 0}, rec)
	}
	mustRun(t, lu1, []byte{0x10, 0, 0, 0, 1, 0}, nil)
	mustRun(t, lu1, []byte{0x01, 0, 0, 0, 0, 0}, nil)
	out := run("-x", "-D", agent, "-B", "tar", "-C", dst, "-f", "tape1", "/")
	if !strings.Contains(out, "LOG_FILE messages: 1 OK") {
		t.Errorf("restore: no LOG_FILE OK:\n%s", out)
	}
	fstree.Compare(t, src, dst, fstree.Options{})
}

// serveNDMP runs ferry's NDMP agent with the tar engine on 127.0.0.1:0
// over lib, which it closes when the test ends.
func serveNDMP(t *testing.T, lib *library.Library, export string) string {
	t.Helper()
	t.Cleanup(func() { lib.Close() })
	return ndmptest.Start(t, ndmptest.Options{Library: lib, Exports: []string{export},
		StateDir: filepath.Join(t.TempDir(), "state"), User: testUser, Password: testPassword}).Addr
}

// readFile reads records (variable, SILI, up to 1 MiB) until a filemark.
func readFile(t *testing.T, dev scsi.Device) [][]byte {
	t.Helper()
	var recs [][]byte
	for {
		cmd := &scsi.Command{CDB: []byte{0x08, 0x02, 0x10, 0, 0, 0}}
		err := dev.Execute(context.Background(), cmd)
		if s, ok := scsi.SenseOf(err); ok && s.Filemark {
			return recs
		}
		if err != nil {
			t.Fatalf("READ after %d records: %v", len(recs), err)
		}
		recs = append(recs, cmd.DataIn)
	}
}

// mustRun runs a command that must end GOOD.
func mustRun(t *testing.T, dev scsi.Device, cdb, out []byte) {
	t.Helper()
	if err := dev.Execute(context.Background(), &scsi.Command{CDB: cdb, DataOut: out}); err != nil {
		t.Fatalf("CDB % x: %v", cdb, err)
	}
}
