package tarengine

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"ferry/internal/ndmp/wire"
)

// Errors of a start request's environment; each wraps wire.ErrIllegalArgs so
// the job halts with a clear message.
var (
	ErrNoFilesystem = errors.New("tarengine: FILESYSTEM is not set")
	ErrNotExported  = errors.New("tarengine: path is not under an exported directory")
	ErrBadEnv       = errors.New("tarengine: bad environment variable")
)

// histKind is the file history a backup sends.
type histKind uint8

const (
	histNone histKind = iota
	histFile          // FH_ADD_FILE
	histDir           // FH_ADD_DIR + FH_ADD_NODE
)

// backupEnv is a backup's parsed environment.
type backupEnv struct {
	filesystem string // as the DMA sent it
	hist       histKind
	level      int
	base       *Token // changed since this backup; nil: everything
	update     bool
	exclude    []string
	files      []string // relative paths to back up; nil: the whole tree
	snapshot   bool
}

// envLookup returns the first value of name and whether it was set. The
// first wins because NDMJOB puts the user's -E variables before its own
// defaults (HIST, TYPE), so `-E HIST=d` must override its HIST=y.
func envLookup(env []wire.PVal, name string) (string, bool) {
	for _, p := range env {
		if p.Name == name {
			return p.Value, true
		}
	}
	return "", false
}

// envAll returns every value of name, in order.
func envAll(env []wire.PVal, name string) []string {
	var vs []string
	for _, p := range env {
		if p.Name == name {
			vs = append(vs, p.Value)
		}
	}
	return vs
}

// yes reads a y/n variable with a default.
func yes(env []wire.PVal, name string, def bool) (bool, error) {
	v, ok := envLookup(env, name)
	if !ok || v == "" {
		return def, nil
	}
	switch strings.ToLower(v) {
	case "y", "yes", "t", "true", "1":
		return true, nil
	case "n", "no", "f", "false", "0":
		return false, nil
	}
	return false, fmt.Errorf("%w: %s=%q (want y or n)", ErrBadEnv, name, v)
}

func parseBackupEnv(env []wire.PVal, snapshotDefault bool) (*backupEnv, error) {
	b := &backupEnv{}
	var ok bool
	if b.filesystem, ok = envLookup(env, "FILESYSTEM"); !ok || b.filesystem == "" {
		return nil, ErrNoFilesystem
	}
	if t, ok := envLookup(env, "TYPE"); ok && t != "" && t != "tar" {
		return nil, fmt.Errorf("%w: TYPE=%q (this method writes tar)", ErrBadEnv, t)
	}
	var err error
	if b.hist, err = parseHist(env); err != nil {
		return nil, err
	}
	if b.level, err = parseLevel(env); err != nil {
		return nil, err
	}
	if v, ok := envLookup(env, "BASE_DATE"); ok && v != "" {
		t, err := ParseToken(v)
		if err != nil {
			return nil, fmt.Errorf("%w: BASE_DATE: %v", ErrBadEnv, err)
		}
		b.base = &t
	}
	if b.update, err = yes(env, "UPDATE", true); err != nil {
		return nil, err
	}
	if b.snapshot, err = yes(env, "SNAPSHOT", snapshotDefault); err != nil {
		return nil, err
	}
	for _, v := range envAll(env, "EXCLUDE") {
		b.exclude = append(b.exclude, splitList(v)...)
	}
	for _, p := range b.exclude {
		if _, err := path.Match(p, ""); err != nil {
			return nil, fmt.Errorf("%w: EXCLUDE pattern %q: %v", ErrBadEnv, p, err)
		}
	}
	for _, v := range envAll(env, "FILES") {
		for _, f := range splitList(v) {
			rel, err := relName(f)
			if err != nil {
				return nil, fmt.Errorf("%w: FILES: %v", ErrBadEnv, err)
			}
			b.files = append(b.files, rel)
		}
	}
	return b, nil
}

func parseHist(env []wire.PVal) (histKind, error) {
	v, _ := envLookup(env, "HIST")
	switch strings.ToLower(v) {
	case "", "n", "no":
		return histNone, nil
	case "y", "yes", "f":
		return histFile, nil
	case "d":
		return histDir, nil
	}
	return 0, fmt.Errorf("%w: HIST=%q (want y, f, d or n)", ErrBadEnv, v)
}

func parseLevel(env []wire.PVal) (int, error) {
	v, ok := envLookup(env, "LEVEL")
	if !ok || v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > 9 {
		return 0, fmt.Errorf("%w: LEVEL=%q (want 0 to 9)", ErrBadEnv, v)
	}
	return n, nil
}

// splitList splits a comma-separated list, dropping empty items.
func splitList(v string) []string {
	var out []string
	for f := range strings.SplitSeq(v, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// relName turns a DMA path relative to the backed-up directory ("/a/b",
// "a/b", "./a") into a clean relative name ("a/b"; "." for the directory
// itself), refusing "..".
func relName(p string) (string, error) {
	c := path.Clean("/" + p)
	if strings.Contains(p, "..") {
		for _, part := range strings.Split(p, "/") {
			if part == ".." {
				return "", fmt.Errorf("%q climbs out with ..", p)
			}
		}
	}
	if c == "/" {
		return ".", nil
	}
	return c[1:], nil
}

// resolveExported resolves dir (symlinks included) and checks it lies under
// one of exports (also resolved).
func resolveExported(dir string, exports []string) (string, error) {
	if !filepath.IsAbs(dir) {
		return "", fmt.Errorf("%w: %q is not absolute", ErrNotExported, dir)
	}
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		// A path that does not exist outside the exports is refused for
		// where it is, not for being missing.
		if underExport(filepath.Clean(dir), exports, false) == "" {
			return "", &NotExportedError{Path: dir, Exports: exports}
		}
		return "", fmt.Errorf("tarengine: %q: %w", dir, err)
	}
	if underExport(real, exports, true) != "" {
		return real, nil
	}
	return "", &NotExportedError{Path: dir, Resolved: real, Exports: exports}
}

// underExport returns the export holding dir ("" if none), comparing with
// the exports' symbolic links resolved (dir resolved too) or as written.
func underExport(dir string, exports []string, resolve bool) string {
	for _, e := range exports {
		re := filepath.Clean(e)
		if resolve {
			var err error
			if re, err = filepath.EvalSymlinks(e); err != nil {
				continue
			}
		}
		if dir == re || strings.HasPrefix(dir, strings.TrimSuffix(re, "/")+"/") {
			return re
		}
	}
	return ""
}

// NotExportedError is a backup source or recover destination outside the
// agent's exports; it is ErrNotExported.
type NotExportedError struct {
	Path     string   // as the DMA sent it
	Resolved string   // with symbolic links resolved, when that differs
	Exports  []string // the agent's exports
}

func (e *NotExportedError) Error() string {
	p := e.Path
	if e.Resolved != "" && e.Resolved != filepath.Clean(e.Path) {
		p += " (resolves to " + e.Resolved + ")"
	}
	ex := strings.Join(e.Exports, ", ")
	if ex == "" {
		ex = "none"
	}
	return fmt.Sprintf("%s is not under an exported directory (exports: %s)", p, ex)
}

func (e *NotExportedError) Is(target error) bool { return target == ErrNotExported }

// resolveDest resolves a recover destination that may not exist yet: its
// deepest existing ancestor must be under an export. It returns that
// ancestor, resolved, and the remainder below it ("" when dest exists).
func resolveDest(dest string, exports []string) (base, rest string, err error) {
	if !filepath.IsAbs(dest) {
		return "", "", fmt.Errorf("%w: %q is not absolute", ErrNotExported, dest)
	}
	cur := filepath.Clean(dest)
	for {
		if _, err := os.Lstat(cur); err == nil {
			real, err := resolveExported(cur, exports)
			var ne *NotExportedError
			if errors.As(err, &ne) {
				return "", "", &NotExportedError{Path: dest, Exports: exports} // named as the DMA sent it
			}
			if err != nil {
				return "", "", err
			}
			rel, _ := filepath.Rel(cur, filepath.Clean(dest))
			if rel == "." {
				rel = ""
			}
			return real, rel, nil
		}
		parent := filepath.Dir(cur)
		if parent == cur {
			return "", "", &NotExportedError{Path: dest, Exports: exports}
		}
		cur = parent
	}
}
