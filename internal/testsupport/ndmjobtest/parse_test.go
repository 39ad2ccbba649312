package ndmjobtest

import (
	"bytes"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseMoverSeries(t *testing.T) {
	out, err := os.ReadFile("testdata/test-mover-v4.txt")
	if err != nil {
		t.Fatal(err)
	}
	phases, final := Parse(string(out))
	want := []Phase{
		{"M-IDLE", "Passed", 7, 0, 0, 7},
		{"M-LISTEN", "Passed", 3, 0, 0, 3},
		{"M-LISTEN/bogus-args", "Passed", 2, 0, 0, 2},
		{"M-LISTEN/not-open", "Passed", 8, 0, 0, 8},
		{"M-LISTEN/tape-ro", "Passed", 30, 0, 0, 30},
		{"M-LISTEN/tape-rw", "Passed", 50, 0, 0, 50},
	}
	if d := cmp.Diff(want, phases); d != "" {
		t.Errorf("phases (-want +got):\n%s", d)
	}
	if d := cmp.Diff(&Phase{"test-mover", "Passed", 100, 0, 0, 100}, final); d != "" {
		t.Errorf("final (-want +got):\n%s", d)
	}
	r := &Result{Output: string(out), Phases: phases, Final: final}
	if p := r.problem(); p != "" {
		t.Errorf("problem() = %q for a passing run", p)
	}
}

func TestParseFailures(t *testing.T) {
	out := "SESS junk\r\n" +
		`TEST "Test T-OC Passed -- pass=8 warn=0 fail=0 (total 8)"` + "\r\n" +
		`TEST "Test T-BWR Almost -- pass=7 warn=1 fail=0 (total 8)"` + "\n" +
		`TEST "Test T-X Passed -- pass=99999999999999999999999 warn=0 fail=0 (total 1)"` + "\n" +
		`TEST "FINAL test-tape Failed -- pass=15 warn=1 fail=1 (total 17)"`
	phases, final := Parse(out)
	want := []Phase{
		{"T-OC", "Passed", 8, 0, 0, 8},
		{"T-BWR", "Almost", 7, 1, 0, 8},
		{"T-X", "Passed", -1, 0, 0, 1},
	}
	if d := cmp.Diff(want, phases); d != "" {
		t.Errorf("phases (-want +got):\n%s", d)
	}
	if final == nil || final.Status != "Failed" || final.Fail != 1 {
		t.Errorf("final = %+v", final)
	}
	r := &Result{Output: out, Phases: phases, Final: final}
	if r.problem() == "" {
		t.Error("problem() empty for a failing run")
	}
	if p := (&Result{}).problem(); p == "" {
		t.Error("problem() empty for a run without output")
	}
}

func FuzzParse(f *testing.F) {
	f.Add(`TEST "Test T-OC Passed -- pass=8 warn=0 fail=0 (total 8)"`)
	f.Add(`TEST "FINAL test-data Passed -- pass=24 warn=0 fail=0 (total 24)"`)
	f.Fuzz(func(t *testing.T, s string) {
		phases, final := Parse(s)
		for _, p := range phases {
			if p.Name == "" || p.Status == "" {
				t.Fatalf("empty field in %+v", p)
			}
		}
		if final != nil && final.Name == "" {
			t.Fatalf("empty final name")
		}
	})
}

func TestPatchCompare(t *testing.T) {
	lib := append(append([]byte("head"), signedCompare...), "tail"...)
	b := bytes.Clone(lib)
	if !patchCompare(b) || b[4+2] != 0xb6 || !bytes.Equal(b[:4], lib[:4]) || !bytes.Equal(b[7:], lib[7:]) {
		t.Errorf("single occurrence: % x", b)
	}
	twice := append(bytes.Clone(lib), signedCompare...)
	if patchCompare(twice) || !bytes.Equal(twice[:len(lib)], lib) {
		t.Error("patched an ambiguous library")
	}
	if patchCompare([]byte("no such code")) {
		t.Error("patched a library without the sequence")
	}
}
