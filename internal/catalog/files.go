package catalog

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"
)

const fileCols = `f.backup_id, d.path, f.name, f.type, f.mode, f.uid, f.gid, f.size, f.mtime, f.fh_info, f.node`

// scanMatch reads one row of fileCols.
func scanMatch(rows *sql.Rows, m *Match, dir, name *[]byte) error {
	var typ, mode, uid, gid, size, mtime, fh, node int64
	if err := rows.Scan(&m.BackupID, dir, name, &typ, &mode, &uid, &gid, &size, &mtime, &fh, &node); err != nil {
		return err
	}
	m.Path = JoinPath(string(*dir), string(*name))
	m.Type, m.Mode, m.UID, m.GID = FileType(typ), uint32(mode), uint32(uid), uint32(gid)
	m.Size, m.Mtime, m.FhInfo, m.Node = uint64(size), time.Unix(0, mtime), uint64(fh), uint64(node)
	return nil
}

// List implements Catalog.
func (c *sqlCatalog) List(ctx context.Context, backupID int64, dir string) ([]File, error) {
	rows, err := c.db.QueryContext(ctx, c.q(`SELECT `+fileCols+` FROM files f JOIN dirs d ON d.id = f.dir_id
		WHERE f.backup_id = ? AND d.path = ? AND length(f.name) > 0 ORDER BY f.name`), backupID, []byte(CleanDir(dir)))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []File
	var m Match
	var d, n []byte
	for rows.Next() {
		if err := scanMatch(rows, &m, &d, &n); err != nil {
			return nil, err
		}
		out = append(out, m.File)
	}
	return out, rows.Err()
}

// Lookup implements Catalog.
func (c *sqlCatalog) Lookup(ctx context.Context, backupID int64, path string) (File, error) {
	dir, name := SplitPath(path)
	rows, err := c.db.QueryContext(ctx, c.q(`SELECT `+fileCols+` FROM files f JOIN dirs d ON d.id = f.dir_id
		WHERE f.backup_id = ? AND d.path = ? AND f.name = ?`), backupID, []byte(dir), []byte(name))
	if err != nil {
		return File{}, err
	}
	defer rows.Close()
	var m Match
	var d, n []byte
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return File{}, err
		}
		return File{}, fmt.Errorf("%w: %q in backup %d", ErrNotFound, path, backupID)
	}
	if err := scanMatch(rows, &m, &d, &n); err != nil {
		return File{}, err
	}
	return m.File, nil
}

// matcher is a compiled Find query: the exact test on a full path, and
// the narrowing of candidates by name that the index can do.
type matcher struct {
	match    func(string) bool
	name     string // required name (exact) or name suffix
	exact    bool
	narrowed bool
}

func compileQuery(q Query) (matcher, error) {
	switch {
	case q.Glob != "" && q.Regex != "":
		return matcher{}, fmt.Errorf("%w: both a glob and a regular expression", ErrBadQuery)
	case q.Regex != "":
		re, err := regexp.Compile(q.Regex)
		if err != nil {
			return matcher{}, fmt.Errorf("%w: %v", ErrBadQuery, err)
		}
		return matcher{match: re.MatchString}, nil
	case q.Glob != "":
		g, err := CompileGlob(q.Glob)
		if err != nil {
			return matcher{}, err
		}
		name, exact, ok := g.nameFilter()
		return matcher{match: g.Match, name: name, exact: exact, narrowed: ok}, nil
	}
	return matcher{}, fmt.Errorf("%w: no pattern", ErrBadQuery)
}

// Find implements Catalog. A glob that ends in literal text reads only
// the files whose name has that ending (index on the reversed name);
// other globs and regular expressions read every file.
func (c *sqlCatalog) Find(ctx context.Context, q Query) ([]Match, error) {
	m, err := compileQuery(q)
	if err != nil {
		return nil, err
	}
	limit := q.Limit
	if limit <= 0 {
		limit = DefaultFindLimit
	}
	if !m.narrowed {
		if frag := fragment(q); len(frag) >= minFragment {
			out, ok, err := c.fragmentFind(ctx, m, frag, q.BackupID, limit)
			if err != nil || ok {
				return out, err
			}
		}
		return c.scanFind(ctx, m, q.BackupID, limit)
	}
	query, args := findSQL(m, q.BackupID)
	rows, err := c.db.QueryContext(ctx, c.q(query), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Match
	var x Match
	var d, n []byte
	for rows.Next() && len(out) < limit {
		if err := scanMatch(rows, &x, &d, &n); err != nil {
			return nil, err
		}
		if m.match(x.Path) {
			out = append(out, x)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	sortMatches(out)
	return out, nil
}

func sortMatches(out []Match) {
	sort.Slice(out, func(i, j int) bool {
		if out[i].BackupID != out[j].BackupID {
			return out[i].BackupID < out[j].BackupID
		}
		return out[i].Path < out[j].Path
	})
}

// fileKey is the primary key of a files row.
type fileKey struct {
	backupID, dirID int64
	name            string
}

// scanPage is how many file keys one scanFind query reads.
const scanPage = 20000

// scanFind is Find without index help: it reads only the key columns of
// the files, in primary key order a page at a time (so it stops as soon as
// it has limit matches: PostgreSQL's driver would otherwise read a whole
// result set to its end before closing it), joins directory paths from
// memory, matches in Go, and fetches the full rows of the matches only.
func (c *sqlCatalog) scanFind(ctx context.Context, m matcher, backupID int64, limit int) ([]Match, error) {
	dirs, err := c.dirPaths(ctx)
	if err != nil {
		return nil, err
	}
	var keys []fileKey
	var last fileKey
	for first := true; len(keys) < limit; first = false {
		query, args := `SELECT backup_id, dir_id, name FROM files`, []any{}
		var where []string
		if backupID != 0 {
			where, args = append(where, `backup_id = ?`), append(args, backupID)
		}
		if !first {
			where = append(where, `(backup_id, dir_id, name) > (?, ?, ?)`)
			args = append(args, last.backupID, last.dirID, []byte(last.name))
		}
		if len(where) > 0 {
			query += ` WHERE ` + strings.Join(where, ` AND `)
		}
		query += fmt.Sprintf(` ORDER BY backup_id, dir_id, name LIMIT %d`, scanPage)
		n, err := c.scanKeys(ctx, query, args, func(k fileKey) bool {
			last = k
			if m.match(JoinPath(dirs[k.dirID], k.name)) {
				keys = append(keys, k)
			}
			return len(keys) < limit
		})
		if err != nil {
			return nil, err
		}
		if n < scanPage {
			break
		}
	}
	return c.fetch(ctx, keys, dirs)
}

// scanKeys runs a key query, handing each key to f until it returns false,
// and returns how many rows it read.
func (c *sqlCatalog) scanKeys(ctx context.Context, query string, args []any, f func(fileKey) bool) (int, error) {
	rows, err := c.db.QueryContext(ctx, c.q(query), args...)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	var k fileKey
	var name sql.RawBytes
	n := 0
	for rows.Next() {
		if err := rows.Scan(&k.backupID, &k.dirID, &name); err != nil {
			return n, err
		}
		n++
		k.name = string(name)
		if !f(k) {
			break
		}
	}
	return n, rows.Err()
}

// dirPaths loads the directory dictionary.
func (c *sqlCatalog) dirPaths(ctx context.Context) (map[int64]string, error) {
	rows, err := c.db.QueryContext(ctx, `SELECT id, path FROM dirs`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	dirs := map[int64]string{}
	var id int64
	var p []byte
	for rows.Next() {
		if err := rows.Scan(&id, &p); err != nil {
			return nil, err
		}
		dirs[id] = string(p)
	}
	return dirs, rows.Err()
}

// fetch reads the full rows of keys.
func (c *sqlCatalog) fetch(ctx context.Context, keys []fileKey, dirs map[int64]string) ([]Match, error) {
	out := make([]Match, 0, len(keys))
	for _, k := range keys {
		f, err := c.Lookup(ctx, k.backupID, JoinPath(dirs[k.dirID], k.name))
		if err != nil {
			return nil, err
		}
		out = append(out, Match{BackupID: k.backupID, File: f})
	}
	sortMatches(out)
	return out, nil
}

// findSQL builds the candidate query of a Find.
func findSQL(m matcher, backupID int64) (string, []any) {
	query := `SELECT ` + fileCols + ` FROM files f JOIN dirs d ON d.id = f.dir_id WHERE 1 = 1`
	var args []any
	if m.narrowed {
		rev := reverse(m.name)
		if m.exact {
			query += ` AND f.name_rev = ?`
			args = append(args, rev)
		} else {
			query += ` AND f.name_rev >= ?`
			args = append(args, rev)
			if end := prefixEnd(rev); end != nil {
				query += ` AND f.name_rev < ?`
				args = append(args, end)
			}
		}
	}
	if backupID != 0 {
		query += ` AND f.backup_id = ?`
		args = append(args, backupID)
	}
	return query, args
}
