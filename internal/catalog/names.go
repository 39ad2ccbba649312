package catalog

import (
	"bytes"
	"context"
	"regexp/syntax"
	"strings"
)

// The names table holds every distinct file name of the catalog. Backups
// of the same tree share their names, so it stays far smaller than files:
// Find matches a pattern's literal text against it (and against the dirs
// table), then reads only the files with a matching name or directory.

// nameSet remembers the names a sink has written to the names table, so
// each is offered once per ingest rather than once per file.
type nameSet map[string]struct{}

// maxNameSet bounds a sink's memory of names; past it, it starts afresh
// (names are then offered again, which the table ignores).
const maxNameSet = 1 << 20

// fresh returns the names of files not offered yet, each once.
func (s *nameSet) fresh(files []File) [][]byte {
	if *s == nil || len(*s) > maxNameSet {
		*s = nameSet{}
	}
	var out [][]byte
	for i := range files {
		_, name := SplitPath(files[i].Path)
		if _, ok := (*s)[name]; ok {
			continue
		}
		(*s)[name] = struct{}{}
		out = append(out, []byte(name))
	}
	return out
}

// minFragment is the shortest literal worth an index walk; shorter ones
// match too many names to beat a scan.
const minFragment = 3

// maxCandidates bounds the names (and directory-backup pairs) a fragment
// search may turn up before Find falls back to scanning every file.
const maxCandidates = 50_000

// fragment returns the longest text without a slash that every match of
// the query contains: every match holds it inside one path element, the
// file's name or one of its directories'.
func fragment(q Query) string {
	var lits []string
	if q.Regex != "" {
		lits = regexLiterals(q.Regex)
	} else if g, err := CompileGlob(q.Glob); err == nil {
		for _, t := range g.toks {
			if t.kind == tokLit {
				lits = append(lits, t.lit)
			}
		}
	}
	best := ""
	for _, l := range lits {
		for _, piece := range strings.Split(l, "/") {
			if len(piece) > len(best) {
				best = piece
			}
		}
	}
	return best
}

// regexLiterals returns literal strings every match of re contains: the
// case-sensitive literals of its top-level concatenation.
func regexLiterals(re string) []string {
	r, err := syntax.Parse(re, syntax.Perl)
	if err != nil {
		return nil
	}
	r = r.Simplify()
	for r.Op == syntax.OpCapture && len(r.Sub) == 1 {
		r = r.Sub[0]
	}
	subs := []*syntax.Regexp{r}
	if r.Op == syntax.OpConcat {
		subs = r.Sub
	}
	var out []string
	for _, s := range subs {
		for s.Op == syntax.OpCapture && len(s.Sub) == 1 {
			s = s.Sub[0]
		}
		if s.Op == syntax.OpLiteral && s.Flags&syntax.FoldCase == 0 {
			out = append(out, string(s.Rune))
		}
	}
	return out
}

// fragmentFind answers a query by its fragment: the names and directories
// containing it (two scans of small tables), then the files with those
// names (reversed-name index) or in those directories (primary key, per
// backup), each checked with the full matcher. ok is false when the
// fragment turns up too many candidates; the caller then scans.
func (c *sqlCatalog) fragmentFind(ctx context.Context, m matcher, frag string, backupID int64, limit int) (_ []Match, ok bool, err error) {
	contains := `instr(%s, ?) > 0`
	if c.be.postgres() {
		contains = `position(?::bytea in %s) > 0`
	}
	names, err := c.column(ctx, `SELECT name FROM names WHERE `+strings.Replace(contains, "%s", "name", 1), []byte(frag))
	if err != nil || len(names) > maxCandidates {
		return nil, false, err
	}
	dirs, err := c.column(ctx, `SELECT id FROM dirs WHERE `+strings.Replace(contains, "%s", "path", 1), []byte(frag))
	if err != nil {
		return nil, false, err
	}
	var backups []int64
	if len(dirs) > 0 {
		if backupID != 0 {
			backups = []int64{backupID}
		} else if backups, err = c.backupIDs(ctx); err != nil {
			return nil, false, err
		}
		if len(dirs)*len(backups) > maxCandidates {
			return nil, false, nil
		}
	}
	seen := map[fileKey]bool{}
	var out []Match
	take := func(query string, args []any) error {
		rows, err := c.db.QueryContext(ctx, c.q(query), args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		var x Match
		var d, n []byte
		for rows.Next() {
			if err := scanMatch(rows, &x, &d, &n); err != nil {
				return err
			}
			k := fileKey{backupID: x.BackupID, name: x.Path}
			if !seen[k] && m.match(x.Path) {
				seen[k] = true
				out = append(out, x)
			}
		}
		return rows.Err()
	}
	const batch = 500
	base := `SELECT ` + fileCols + ` FROM files f JOIN dirs d ON d.id = f.dir_id WHERE `
	for len(names) > 0 {
		n := min(len(names), batch)
		args := make([]any, 0, n+1)
		for _, name := range names[:n] {
			args = append(args, reverseBytes(name.([]byte)))
		}
		query := base + `f.name_rev IN (` + placeholders(n) + `)`
		if backupID != 0 {
			query += ` AND f.backup_id = ?`
			args = append(args, backupID)
		}
		if err := take(query, args); err != nil {
			return nil, false, err
		}
		names = names[n:]
	}
	for _, b := range backups {
		for rest := dirs; len(rest) > 0; {
			n := min(len(rest), batch)
			args := append([]any{b}, rest[:n]...)
			if err := take(base+`f.backup_id = ? AND f.dir_id IN (`+placeholders(n)+`)`, args); err != nil {
				return nil, false, err
			}
			rest = rest[n:]
		}
	}
	sortMatches(out)
	if len(out) > limit {
		out = out[:limit]
	}
	return out, true, nil
}

// column runs a query returning one column.
func (c *sqlCatalog) column(ctx context.Context, query string, args ...any) ([]any, error) {
	rows, err := c.db.QueryContext(ctx, c.q(query), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []any
	for rows.Next() {
		var v any
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		if b, ok := v.([]byte); ok {
			v = bytes.Clone(b)
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

func (c *sqlCatalog) backupIDs(ctx context.Context) ([]int64, error) {
	vs, err := c.column(ctx, `SELECT id FROM backups ORDER BY id`)
	out := make([]int64, 0, len(vs))
	for _, v := range vs {
		if id, ok := v.(int64); ok {
			out = append(out, id)
		}
	}
	return out, err
}

func placeholders(n int) string { return strings.Repeat("?,", n-1) + "?" }

func reverseBytes(b []byte) []byte {
	out := make([]byte, len(b))
	for i, c := range b {
		out[len(b)-1-i] = c
	}
	return out
}
