package catalog

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"sort"
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
	sort.Slice(out, func(i, j int) bool {
		if out[i].BackupID != out[j].BackupID {
			return out[i].BackupID < out[j].BackupID
		}
		return out[i].Path < out[j].Path
	})
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
