// Package ndmjobtest runs Amanda's ndmjob, the NDMP reference implementation,
// against an NDMP server under test and reads its conformance results.
//
// ndmjob's self-tests (-o test-tape, -o test-mover, -o test-data) print one
// `TEST "..."` line when a phase starts, one when it ends with its counts and
// a FINAL line for the series. Parse turns those lines into Phases.
//
// The binary is expected at /usr/lib/amanda/ndmjob (Debian's amanda-common).
// When it is missing, Find skips the test unless the environment variable CI
// is set, in which case the test fails: CI must run the conformance tests.
//
// Three defects of Amanda's build of the ndmjob client are worked around, so
// that a conforming server can pass every phase:
//
//   - it cannot send a zero-length TAPE_WRITE, and
//   - its test-data generator copies uninitialised struct padding, so T-READ
//     compares against different bytes than T-WRITE wrote:
//     Run preloads a shim (gmalloc0.c) that replaces both functions; Find
//     compiles it with gcc once per test binary;
//   - its T-BWR phase compares the data it read back through a signed char
//     against an int in 0..255, so every byte >= 0x80 "mismatches" and the
//     phase fails against any server. Find copies libndmjob and patches that
//     one instruction (movsbl -> movzbl) when it finds exactly the compiled
//     sequence of the Debian build; Run puts the copy first on the library
//     path (ndmjob uses RUNPATH, which LD_LIBRARY_PATH overrides).
package ndmjobtest

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// DefaultBinary is where Debian's amanda-common installs ndmjob.
const DefaultBinary = "/usr/lib/amanda/ndmjob"

// DefaultTimeout bounds one ndmjob run when the caller's context has no
// deadline of its own.
const DefaultTimeout = 2 * time.Minute

//go:embed gmalloc0.c
var shimSource []byte

// Tool is an ndmjob binary ready to run, with its preload shim.
type Tool struct {
	Binary string // path of ndmjob
	Shim   string // path of the compiled gmalloc0 shim, for LD_PRELOAD
	LibDir string // directory of the patched libndmjob; "" if not patched
}

// built caches the one shim build of this test binary. It is written once,
// under the sync.Once, and only read afterwards.
var built struct {
	once   sync.Once
	dir    string
	shim   string
	libDir string
	err    error
}

// Find returns the ndmjob tool, building the shim on first use. It skips the
// test when ndmjob or gcc is missing and CI is unset, and fails it when CI is
// set.
func Find(t testing.TB) *Tool {
	t.Helper()
	bin, err := exec.LookPath(DefaultBinary)
	if err == nil {
		_, err = exec.LookPath("gcc")
	}
	if err != nil {
		missing(t, err)
		return nil
	}
	built.once.Do(func() { build(bin) })
	if built.err != nil {
		t.Fatalf("ndmjobtest: preparing ndmjob: %v", built.err)
	}
	return &Tool{Binary: bin, Shim: built.shim, LibDir: built.libDir}
}

func missing(t testing.TB, err error) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("ndmjobtest: %v (CI is set, so the conformance tests must run)", err)
	}
	t.Skipf("ndmjobtest: %v", err)
}

func build(bin string) {
	dir, err := os.MkdirTemp("", "ndmjobtest-")
	if err != nil {
		built.err = err
		return
	}
	built.dir = dir
	if built.err = buildShim(dir); built.err != nil {
		return
	}
	built.libDir, built.err = patchLib(bin, dir)
}

func buildShim(dir string) error {
	src := filepath.Join(dir, "gmalloc0.c")
	if err := os.WriteFile(src, shimSource, 0o600); err != nil {
		return err
	}
	so := filepath.Join(dir, "gmalloc0.so")
	out, err := exec.Command("gcc", "-shared", "-fPIC", "-O2", "-o", so, src, "-ldl").CombinedOutput()
	if err != nil {
		return fmt.Errorf("gcc: %v: %s", err, out)
	}
	built.shim = so
	return nil
}

// signedCompare is the T-BWR data check as Debian's amanda-common 3.5.1
// compiled it: movsbl (%r12,%r15,1),%eax; mov %r15d,%ebx;
// movzbl %r9b,%r9d; cmp %r9d,%eax. Byte 2 (0xbe) becomes 0xb6: movzbl.
var signedCompare = []byte{0x43, 0x0f, 0xbe, 0x04, 0x3c, 0x44, 0x89, 0xfb, 0x45, 0x0f, 0xb6, 0xc9, 0x44, 0x39, 0xc8}

// patchLib copies the libndmjob that bin loads into dir with the T-BWR
// compare fixed. It returns "" (and no error) when the library does not
// contain the sequence exactly once: another build, left alone.
func patchLib(bin, dir string) (string, error) {
	lib, err := ndmjobLib(bin)
	if err != nil || lib == "" {
		return "", err
	}
	b, err := os.ReadFile(lib)
	if err != nil {
		return "", err
	}
	if !patchCompare(b) {
		return "", nil
	}
	libDir := filepath.Join(dir, "lib")
	if err := os.Mkdir(libDir, 0o700); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(libDir, filepath.Base(lib)), b, 0o700); err != nil {
		return "", err
	}
	return libDir, nil
}

// patchCompare turns the signed compare into an unsigned one in place if b
// holds the sequence exactly once, and reports whether it did.
func patchCompare(b []byte) bool {
	i := bytes.Index(b, signedCompare)
	if i < 0 || bytes.Index(b[i+1:], signedCompare) >= 0 {
		return false
	}
	b[i+2] = 0xb6
	return true
}

// ndmjobLib finds the libndmjob shared library bin loads, with ldd.
func ndmjobLib(bin string) (string, error) {
	out, err := exec.Command("ldd", bin).Output()
	if err != nil {
		return "", fmt.Errorf("ldd %s: %w", bin, err)
	}
	for line := range strings.Lines(string(out)) {
		name, rest, ok := strings.Cut(strings.TrimSpace(line), " => ")
		if ok && strings.HasPrefix(name, "libndmjob") {
			path, _, _ := strings.Cut(rest, " (")
			return path, nil
		}
	}
	return "", nil
}

// Cleanup removes the shim build directory. Call it from TestMain after
// m.Run; a test binary that never calls it leaves one small directory in the
// system temp dir.
func Cleanup() {
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
}

// Result is the outcome of one ndmjob run.
type Result struct {
	Output   string  // stdout and stderr, interleaved
	ExitCode int     // -1 when ndmjob did not exit normally
	Phases   []Phase // completed phases, in order
	Final    *Phase  // the FINAL line, nil when ndmjob stopped early
	Err      error   // the run error (non-zero exit, timeout), if any
}

// Run runs ndmjob with args after "-o config-file=EMPTY", where EMPTY is an
// empty file in a test temp dir (without one, ndmjob complains that its
// default config is missing). The run ends when ctx ends or after
// DefaultTimeout.
func (tl *Tool) Run(ctx context.Context, t testing.TB, args ...string) *Result {
	t.Helper()
	conf := filepath.Join(t.TempDir(), "ndmjob.conf")
	if err := os.WriteFile(conf, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultTimeout)
		defer cancel()
	}
	full := append([]string{"-o", "config-file=" + conf}, args...)
	cmd := exec.CommandContext(ctx, tl.Binary, full...)
	cmd.Env = append(os.Environ(), "LD_PRELOAD="+tl.Shim)
	if tl.LibDir != "" {
		cmd.Env = append(cmd.Env, "LD_LIBRARY_PATH="+tl.LibDir)
	}
	cmd.Dir = t.TempDir()
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	r := &Result{Output: out.String(), ExitCode: -1, Err: err}
	var ee *exec.ExitError
	if err == nil {
		r.ExitCode = 0
	} else if errors.As(err, &ee) {
		r.ExitCode = ee.ExitCode()
	}
	if ctx.Err() != nil {
		r.Err = fmt.Errorf("ndmjobtest: ndmjob %v: %w", args, ctx.Err())
	}
	r.Phases, r.Final = Parse(r.Output)
	return r
}

// RequirePassed fails t unless the run exited 0, every phase passed and the
// FINAL line reports Passed with no warnings or failures.
func (r *Result) RequirePassed(t testing.TB) {
	t.Helper()
	if msg := r.problem(); msg != "" {
		t.Fatalf("ndmjob: %s\n--- output ---\n%s", msg, r.Output)
	}
}

func (r *Result) problem() string {
	if r.Err != nil || r.ExitCode != 0 {
		return fmt.Sprintf("exit %d: %v", r.ExitCode, r.Err)
	}
	if r.Final == nil {
		return "no FINAL line"
	}
	for _, p := range append(r.Phases, *r.Final) {
		if p.Status != "Passed" || p.Warn != 0 || p.Fail != 0 {
			return fmt.Sprintf("phase %s: %s pass=%d warn=%d fail=%d", p.Name, p.Status, p.Pass, p.Warn, p.Fail)
		}
	}
	if len(r.Phases) == 0 {
		return "no phases ran"
	}
	return ""
}
