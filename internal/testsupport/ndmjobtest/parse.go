package ndmjobtest

import (
	"regexp"
	"strconv"
	"strings"
)

// Phase is one completed test phase (or the FINAL summary of a series).
type Phase struct {
	Name   string // e.g. "T-OC", "M-LISTEN/tape-rw"; the series name for FINAL
	Status string // Passed, Almost, Failed or Whiffed
	Pass   int
	Warn   int
	Fail   int
	Total  int
}

// The two result lines ndmjob prints (ndma_ctst_subr.c: done_phase and
// done_series); phase-start lines have no counts and are not matched.
var (
	phaseLine = regexp.MustCompile(`^TEST "Test (\S+) (Passed|Almost|Failed|Whiffed) -- pass=(\d+) warn=(\d+) fail=(\d+) \(total (\d+)\)"$`)
	finalLine = regexp.MustCompile(`^TEST "FINAL (\S+) (Passed|Almost|Failed) -- pass=(\d+) warn=(\d+) fail=(\d+) \(total (\d+)\)"$`)
)

// Parse extracts the completed phases and the FINAL line from ndmjob output.
// Lines it does not recognise are ignored; final is nil when there is no
// FINAL line.
func Parse(output string) (phases []Phase, final *Phase) {
	for line := range strings.Lines(output) {
		line = strings.TrimRight(line, "\r\n")
		if m := phaseLine.FindStringSubmatch(line); m != nil {
			phases = append(phases, phaseFrom(m))
		} else if m := finalLine.FindStringSubmatch(line); m != nil {
			p := phaseFrom(m)
			final = &p
		}
	}
	return phases, final
}

func phaseFrom(m []string) Phase {
	return Phase{
		Name:   m[1],
		Status: m[2],
		Pass:   atoi(m[3]),
		Warn:   atoi(m[4]),
		Fail:   atoi(m[5]),
		Total:  atoi(m[6]),
	}
}

// atoi returns -1 for a count that does not fit an int: the regexp admits
// only digits, but they can still overflow.
func atoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		return -1
	}
	return n
}
