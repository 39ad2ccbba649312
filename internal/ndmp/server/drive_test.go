package server

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"ferry/internal/ndmp/wire"
	"ferry/internal/tape"
)

// newTestDrive opens a blank cartridge of capacity bytes as a Drive without
// a library (Close is not called; the medium is closed at cleanup).
func newTestDrive(t *testing.T, v wire.Version, mode wire.TapeOpenMode, capacity int64) *tapeUnit {
	t.Helper()
	path := filepath.Join(t.TempDir(), "cart")
	if err := tape.Create(path, tape.Meta{Barcode: "TEST01", Capacity: capacity}); err != nil {
		t.Fatal(err)
	}
	m, err := tape.Open(path, mode == wire.TapeReadMode)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return &tapeUnit{name: "tape0", m: m, mode: mode, version: v}
}

// runScript runs a small tape script against d. Each line is an operation
// and its expectation:
//
//	rew | eof N | fsf N | bsf N | fsr N | bsr N  [resid R]
//	write N            (a record of N bytes, byte value = record index)
//	read N  ERR|ok[:LEN]
//	state FILE BLOCK   (BLOCK "-" means unknown/all ones)
func runScript(t *testing.T, d *tapeUnit, script string) {
	t.Helper()
	written := 0
	for i, line := range strings.Split(strings.TrimSpace(script), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		where := fmt.Sprintf("line %d %q", i+1, strings.TrimSpace(line))
		arg := func(k int) int {
			n, err := strconv.Atoi(f[k])
			if err != nil {
				t.Fatalf("%s: bad number", where)
			}
			return n
		}
		switch f[0] {
		case "rew", "eof", "fsf", "bsf", "fsr", "bsr", "off", "tur":
			ops := map[string]wire.MtioOp{"rew": wire.MtioREW, "eof": wire.MtioEOF, "fsf": wire.MtioFSF,
				"bsf": wire.MtioBSF, "fsr": wire.MtioFSR, "bsr": wire.MtioBSR, "off": wire.MtioOFF, "tur": wire.MtioTUR}
			count := uint32(1)
			if len(f) > 1 {
				count = uint32(arg(1))
			}
			resid, err := d.MTIO(ops[f[0]], count)
			if err != nil {
				t.Fatalf("%s: %v", where, err)
			}
			if len(f) > 3 && f[2] == "resid" && resid != uint32(arg(3)) {
				t.Fatalf("%s: resid %d", where, resid)
			}
		case "write":
			p := bytes.Repeat([]byte{byte(written)}, arg(1))
			written++
			if n, err := d.Write(p); err != nil || n != len(p) {
				t.Fatalf("%s: n=%d err=%v", where, n, err)
			}
		case "read":
			checkRead(t, d, where, arg(1), f[2])
		case "state":
			st, err := d.State()
			if err != nil {
				t.Fatalf("%s: %v", where, err)
			}
			block := strconv.FormatUint(uint64(st.BlockNo), 10)
			if st.BlockNo == allOnes32 {
				block = "-"
			}
			if got := fmt.Sprintf("%d %s", st.FileNum, block); got != f[1]+" "+f[2] {
				t.Fatalf("%s: state %s", where, got)
			}
		default:
			t.Fatalf("%s: unknown op", where)
		}
	}
}

func checkRead(t *testing.T, d *tapeUnit, where string, n int, want string) {
	t.Helper()
	data, err := d.Read(make([]byte, n))
	got := "ok:" + strconv.Itoa(len(data))
	var e wire.Error
	if errors.As(err, &e) {
		got = strings.TrimSuffix(strings.TrimPrefix(e.String(), "NDMP_"), "_ERR")
	} else if err != nil {
		got = err.Error()
	}
	if got != want && !(want == "ok" && strings.HasPrefix(got, "ok:")) {
		t.Fatalf("%s: got %s", where, got)
	}
}

// The T-BWR steps of ndmjob's test-tape, which pin the residual counts and
// the end-of-data error per version (ndma_ctst_tape.c).
func TestDriveBasicWriteRead(t *testing.T) {
	for _, tc := range []struct {
		v   wire.Version
		eod string
	}{{wire.V4, "EOM"}, {wire.V3, "EOF"}} {
		t.Run(fmt.Sprint("v", tc.v), func(t *testing.T) {
			d := newTestDrive(t, tc.v, wire.TapeRdwrMode, 1<<20)
			runScript(t, d, `
				rew
				bsr 100 resid 100
				bsf 100 resid 100
				eof 1 resid 0
				state 1 0
				bsf 100 resid 99
				state 0 0
				fsf 100 resid 99
				read 65536 `+tc.eod+`
				read 1024 `+tc.eod+`
				rew
				write 512
				bsr 100 resid 99
				fsr 100 resid 99
				fsr 100 resid 100
				fsf 100 resid 100
				read 10 `+tc.eod)
		})
	}
}

// Reading a filemark: v4 stays on its BOT side with blockno unknown, v3
// moves past it (ndmjob T-READ).
func TestDriveReadFilemark(t *testing.T) {
	d := newTestDrive(t, wire.V4, wire.TapeRdwrMode, 1<<20)
	runScript(t, d, `
		write 100
		write 100
		eof 1
		write 50
		eof 1
		rew
		read 100 ok:100
		read 50 ok:50
		state 0 2
		read 100 EOF
		state 0 -
		read 100 EOF
		state 0 -
		fsf 1 resid 0
		state 1 0
		read 200 ok:50
		read 200 EOF
		fsf 1
		read 200 EOM`)

	d = newTestDrive(t, wire.V3, wire.TapeRdwrMode, 1<<20)
	runScript(t, d, `
		write 100
		eof 1
		write 50
		eof 1
		rew
		read 100 ok:100
		read 100 EOF
		state 1 0
		read 200 ok:50
		read 100 EOF
		state 2 0
		read 100 EOF`)
}

// Record spacing at a filemark: v4 stops on the near side, v3 crosses it
// (ndmjob T-MTIO). File 1 holds 4 records.
func TestDriveSpaceRecords(t *testing.T) {
	const layout = `
		write 10
		write 10
		eof 1
		write 10
		write 10
		write 10
		write 10
		eof 1
		write 10
		eof 1
		rew
		fsf 1 resid 0
		state 1 0`
	d := newTestDrive(t, wire.V4, wire.TapeRdwrMode, 1<<20)
	runScript(t, d, layout+`
		fsr 1000000 resid 999996
		state 1 4
		fsr 5 resid 5
		bsr 1000000 resid 999996
		state 1 0
		bsr 3 resid 3
		fsr 0 resid 0
		fsr 2 resid 0
		read 10 ok:10
		bsr 2 resid 0
		state 1 1`)

	d = newTestDrive(t, wire.V3, wire.TapeRdwrMode, 1<<20)
	runScript(t, d, layout+`
		fsr 1000000 resid 999996
		state 2 0
		bsf 1
		state 1 -
		bsr 1000000 resid 999996
		state 0 -
		fsf 1
		state 1 0`)
}

// Write permission, zero-length writes, the implicit filemark and TUR.
func TestDriveWriteRules(t *testing.T) {
	d := newTestDrive(t, wire.V4, wire.TapeReadMode, 1<<20)
	if _, err := d.Write([]byte("x")); err != wire.ErrPermission {
		t.Errorf("write on READ open: %v, want PERMISSION", err)
	}
	if _, err := d.MTIO(wire.MtioEOF, 1); err != wire.ErrPermission {
		t.Errorf("EOF on READ open: %v, want PERMISSION", err)
	}

	d = newTestDrive(t, wire.V4, wire.TapeRdwrMode, 1<<20)
	if n, err := d.Write(nil); n != 0 || err != nil {
		t.Errorf("zero-length write: %d, %v", n, err)
	}
	runScript(t, d, `
		state 0 0
		write 10
		rew
		read 10 ok:10
		read 10 EOF
		fsf 1
		read 10 EOM
		tur`)
	if _, err := d.MTIO(wire.MtioOFF, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := d.MTIO(wire.MtioTUR, 1); err != wire.ErrNoTapeLoaded {
		t.Errorf("TUR after OFF: %v, want NO_TAPE_LOADED", err)
	}
	if _, err := d.MTIO(wire.MtioOp(99), 1); err != wire.ErrIllegalArgs {
		t.Errorf("bad op: %v", err)
	}

	d = newTestDrive(t, wire.V3, wire.TapeRdwrMode, 1<<20)
	if _, err := d.MTIO(wire.MtioTUR, 1); err != wire.ErrIllegalArgs {
		t.Errorf("v3 TUR: %v, want ILLEGAL_ARGS", err)
	}
}

// Near the end of the cartridge: one write reports EOM without writing,
// later writes succeed until the physical end gives IO_ERR (spec §3.4.6).
func TestDriveEarlyWarning(t *testing.T) {
	d := newTestDrive(t, wire.V4, wire.TapeRdwrMode, 100<<10)
	rec := make([]byte, 1000)
	var seq []string
	for range 200 {
		_, err := d.Write(rec)
		switch {
		case err == nil:
			seq = append(seq, "ok")
		case errors.Is(err, wire.ErrEOM):
			seq = append(seq, "EOM")
		case errors.Is(err, wire.ErrIO):
			seq = append(seq, "IO")
		default:
			t.Fatalf("write: %v", err)
		}
		if err == wire.ErrIO {
			break
		}
	}
	got := strings.Join(compress(seq), " ")
	if !strings.HasPrefix(got, "ok*") || !strings.HasSuffix(got, "IO") || strings.Count(got, "EOM") != 1 {
		t.Fatalf("write sequence %s, want ok* EOM ok* IO", got)
	}
	if st, _ := d.State(); st.SpaceRemain >= 1000+tape.FrameOverhead {
		t.Errorf("space remain %d after IO error", st.SpaceRemain)
	}
}

// compress collapses runs: ok ok ok EOM ok IO -> ok* EOM ok IO.
func compress(s []string) []string {
	var out []string
	for i := 0; i < len(s); {
		j := i
		for j < len(s) && s[j] == s[i] {
			j++
		}
		if j-i > 1 {
			out = append(out, s[i]+"*")
		} else {
			out = append(out, s[i])
		}
		i = j
	}
	return out
}
