package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"ferry/internal/changer"
	"ferry/internal/ndmp/data"
	"ferry/internal/tape"
	"ferry/internal/testsupport/ndmjobtest"
)

// agent is ndmjob's agent syntax: HOST:PORT/<version><auth>,USER,PASS.
func (ts *testServer) agent(versionAuth string) string {
	return fmt.Sprintf("%s/%s,%s,%s", ts.addr, versionAuth, testUser, testPassword)
}

func ndmjob(t *testing.T, ts *testServer, args ...string) *ndmjobtest.Result {
	t.Helper()
	tool := ndmjobtest.Find(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// NDMJOB_VERBOSE=N passes -v N times: ndmjob then prints its test steps.
	if n, _ := strconv.Atoi(os.Getenv("NDMJOB_VERBOSE")); n > 0 {
		args = append(slices.Repeat([]string{"-v"}, n), args...)
	}
	return tool.Run(ctx, t, args...)
}

// ndmjob's conformance series, each for v4 with MD5 and v3 with TEXT.
func TestNdmjobConformance(t *testing.T) {
	for _, series := range []string{"test-tape", "test-mover", "test-data"} {
		for _, va := range []string{"4m", "3t"} {
			t.Run(series+"/"+va, func(t *testing.T) {
				ts := newTestServer(t)
				ts.loadDrive(t, "tape0")
				args := []string{"-o", series, "-T", ts.agent(va), "-f", "tape0"}
				if series == "test-data" {
					args = []string{"-o", series, "-D", ts.agent(va)}
				}
				r := ndmjob(t, ts, args...)
				r.RequirePassed(t)
				t.Logf("%s: %d phases, FINAL %+v", series, len(r.Phases), *r.Final)
				if series != "test-tape" && !strings.Contains(r.Output, "LOCAL and TCP addressing tested.") {
					t.Errorf("not both address types tested:\n%s", r.Output)
				}
			})
		}
	}
}

// ndmjob as a robot client: element status with barcodes, init element
// status, load, unload and move, checked against the library afterwards.
func TestNdmjobRobot(t *testing.T) {
	ts := newTestServer(t)
	robot := []string{"-R", ts.agent("4t"), "-r", ts.lib.ChangerName()}
	tapeAgent := []string{"-T", ts.agent("4t"), "-f", "tape0"}

	ts.emptyDrive(t, "tape0")
	els := ts.elements(t)
	var slot, empty, drive changer.Element
	for _, e := range els {
		switch {
		case e.Type == changer.Storage && e.Full && slot.Address == 0:
			slot = e
		case e.Type != changer.DataTransfer && e.Type != changer.Transport && !e.Full && empty.Address == 0:
			empty = e
		case e.Type == changer.DataTransfer && e.Drive == "tape0":
			drive = e
		}
	}
	if slot.Address == 0 || empty.Address == 0 || drive.Address == 0 {
		t.Fatalf("library lacks a full slot, an empty element or tape0: %+v", els)
	}

	// The query lists every element, with the barcode of each cartridge.
	r := ndmjob(t, ts, append([]string{"-q"}, robot...)...)
	if r.ExitCode != 0 {
		t.Fatalf("query: exit %d\n%s", r.ExitCode, r.Output)
	}
	lines := regexp.MustCompile(`(?m)^QR "\s+\d+\s+@(\d+)\s+(\S+)\s+(Full|Empty)\s*(?:PVolTag\((\S+?),)?`).FindAllStringSubmatch(r.Output, -1)
	if len(lines) != len(els) {
		t.Fatalf("query lists %d elements, library has %d:\n%s", len(lines), len(els), r.Output)
	}
	for i, m := range lines {
		e := els[i]
		if m[1] != strconv.Itoa(int(e.Address)) || (m[3] == "Full") != e.Full || m[4] != e.Barcode {
			t.Errorf("query element %v, library %+v", m[1:], e)
		}
	}

	r = ndmjob(t, ts, append([]string{"-o", "init-elem-status"}, robot...)...)
	if r.ExitCode != 0 {
		t.Fatalf("init-elem-status: exit %d\n%s", r.ExitCode, r.Output)
	}

	r = ndmjob(t, ts, append(append([]string{"-o", fmt.Sprintf("load=%d", slot.Address)}, robot...), tapeAgent...)...)
	if r.ExitCode != 0 {
		t.Fatalf("load: exit %d\n%s", r.ExitCode, r.Output)
	}
	if d := ts.element(t, drive.Address); !d.Full || d.Barcode != slot.Barcode {
		t.Fatalf("after load, drive holds %+v, want %s", d, slot.Barcode)
	}

	r = ndmjob(t, ts, append(append([]string{"-o", "unload"}, robot...), tapeAgent...)...)
	if r.ExitCode != 0 {
		t.Fatalf("unload: exit %d\n%s", r.ExitCode, r.Output)
	}
	if s := ts.element(t, slot.Address); !s.Full || s.Barcode != slot.Barcode || ts.element(t, drive.Address).Full {
		t.Fatalf("after unload, slot holds %+v", s)
	}

	r = ndmjob(t, ts, append([]string{"-o", "move",
		"-o", fmt.Sprintf("from-addr=%d", slot.Address), "-o", fmt.Sprintf("to-addr=%d", empty.Address)}, robot...)...)
	if r.ExitCode != 0 {
		t.Fatalf("move: exit %d\n%s", r.ExitCode, r.Output)
	}
	if s := ts.element(t, empty.Address); !s.Full || s.Barcode != slot.Barcode || ts.element(t, slot.Address).Full {
		t.Fatalf("after move, destination holds %+v", s)
	}
}

// ndmjob's query of a data and a tape agent shows what CONFIG reports.
func TestNdmjobQuery(t *testing.T) {
	ts := newTestServer(t, func(cfg *Config) {
		cfg.Engines = map[string]data.Engine{"tar": described{}}
	})
	r := ndmjob(t, ts, "-q", "-D", ts.agent("4m"), "-T", ts.agent("3t"), "-f", "tape0")
	if r.ExitCode != 0 {
		t.Fatalf("query: exit %d\n%s", r.ExitCode, r.Output)
	}
	for _, want := range []string{
		"vendor     ferry", "NDMP4_AUTH_TEXT NDMP4_AUTH_MD5", "NDMP3_AUTH_TEXT NDMP3_AUTH_MD5",
		"NDMP4_ADDR_LOCAL", "NDMP4_ADDR_TCP", "tar", ts.export, "tape0", "tape3",
	} {
		if !strings.Contains(r.Output, want) {
			t.Errorf("query output lacks %q", want)
		}
	}
	if t.Failed() || testing.Verbose() {
		t.Log(r.Output)
	}
}

// ndmjob as the DMA of a backup: 2-way (one connection, LOCAL data
// connection) and 3-way (separate DATA and TAPE connections, TCP). The
// pattern engine's stream must be on the tape afterwards.
func TestNdmjobBackup(t *testing.T) {
	stream := make([]byte, 300_000)
	for i := range stream {
		stream[i] = byte(i*31 + i>>11)
	}
	for _, tc := range []struct {
		name      string
		separateT bool // a TAPE agent connection of its own
	}{
		{"2-way", false},
		{"3-way", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := newTestServer(t, func(cfg *Config) {
				cfg.Engines = map[string]data.Engine{"tar": patternEngine{stream}}
			})
			args := []string{"-c", "-D", ts.agent("4m"), "-f", "tape0", "-B", "tar", "-C", ts.export}
			if tc.separateT {
				args = append(args, "-T", ts.agent("3t"))
			}
			r := ndmjob(t, ts, append([]string{"-v"}, args...)...)
			if r.ExitCode != 0 || !strings.Contains(r.Output, "Operation ended OKAY") ||
				!strings.Contains(r.Output, "DE DUMP_DATE=42") {
				t.Fatalf("backup: exit %d\n%s", r.ExitCode, r.Output)
			}
			got := readTapeFile(t, ts, "tape0")
			if len(got) < len(stream) || !bytes.Equal(got[:len(stream)], stream) || len(bytes.Trim(got[len(stream):], "\x00")) != 0 {
				t.Errorf("tape holds %d bytes, not the %d-byte stream plus padding", len(got), len(stream))
			}
		})
	}
}

// readTapeFile reads the first tape file of the cartridge in drive.
func readTapeFile(t *testing.T, ts *testServer, drive string) []byte {
	t.Helper()
	m, err := ts.lib.OpenDrive(drive, true)
	if err != nil {
		t.Fatal(err)
	}
	defer ts.lib.CloseDrive(drive, m)
	var out []byte
	buf := make([]byte, 1<<20)
	for {
		n, err := m.ReadRecord(buf)
		if errors.Is(err, tape.ErrFilemark) {
			return out
		}
		if err != nil {
			t.Fatalf("read tape: %v", err)
		}
		out = append(out, buf[:n]...)
	}
}
