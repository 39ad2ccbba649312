// Package cheaders reads constants, struct sizes and field offsets from the
// system's C headers by compiling a tiny program with the C compiler, so
// tests can check ferry's hand-written ioctl layouts against the kernel's.
package cheaders

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Values compiles a C program that includes headers and prints each
// expression (an integer constant expression such as "sizeof(struct mtop)"
// or "MTIOCTOP") and returns their values by expression. It skips the test
// when the C compiler or a header is missing, and fails it instead when
// CI=true, where scripts/test.sh installed them.
func Values(t testing.TB, headers, exprs []string) map[string]int64 {
	t.Helper()
	cc, err := exec.LookPath("gcc")
	if err != nil {
		missing(t, "gcc not found: install the gcc package to check the ioctl layouts against the kernel headers")
	}
	for _, h := range headers {
		if _, err := os.Stat(filepath.Join("/usr/include", h)); err != nil {
			missing(t, fmt.Sprintf("/usr/include/%s not found: install linux-libc-dev to check the ioctl layouts", h))
		}
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "layout.c")
	if err := os.WriteFile(src, []byte(program(headers, exprs)), 0o600); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "layout")
	if out, err := exec.Command(cc, "-o", bin, src).CombinedOutput(); err != nil {
		t.Fatalf("compiling the layout program: %v\n%s", err, out)
	}
	out, err := exec.Command(bin).Output()
	if err != nil {
		t.Fatalf("running the layout program: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != len(exprs) {
		t.Fatalf("layout program printed %d lines for %d expressions", len(lines), len(exprs))
	}
	vals := make(map[string]int64, len(exprs))
	for i, l := range lines {
		v, err := strconv.ParseInt(l, 10, 64)
		if err != nil {
			t.Fatalf("layout program line %q: %v", l, err)
		}
		vals[exprs[i]] = v
	}
	return vals
}

func program(headers, exprs []string) string {
	var b strings.Builder
	b.WriteString("#include <stdio.h>\n#include <stddef.h>\n#include <sys/ioctl.h>\n")
	for _, h := range headers {
		fmt.Fprintf(&b, "#include <%s>\n", h)
	}
	b.WriteString("int main(void) {\n")
	for _, e := range exprs {
		fmt.Fprintf(&b, "\tprintf(\"%%lld\\n\", (long long)(%s));\n", e)
	}
	b.WriteString("\treturn 0;\n}\n")
	return b.String()
}

func missing(t testing.TB, why string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(why)
	}
	t.Skip(why)
}
