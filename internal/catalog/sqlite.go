package catalog

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/pressly/goose/v3"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

//go:embed migrations
var migrations embed.FS

// sqlitePragmas: WAL so readers never block the writer, a busy timeout so
// several ferry processes take turns instead of failing, and write
// transactions that take the lock at BEGIN (no deadlock on upgrade).
const sqlitePragmas = "_pragma=busy_timeout(30000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)" +
	"&_pragma=foreign_keys(1)&_txlock=immediate"

// OpenSQLite opens (creating it if needed) the SQLite catalog at path,
// normally STATE/catalog.db, and brings its schema up to date.
func OpenSQLite(ctx context.Context, path string) (Catalog, error) {
	if strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("catalog: SQLite path %q contains ? or #", path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	if err := private(path); err != nil {
		return nil, err
	}
	db, err := sql.Open("sqlite", path+"?"+sqlitePragmas)
	if err != nil {
		return nil, fmt.Errorf("catalog: open %s: %w", path, err)
	}
	if err := migrateSQLite(ctx, db, path); err != nil {
		db.Close()
		return nil, err
	}
	return &sqlCatalog{db: db, be: sqliteBackend{db: db}}, nil
}

// private makes the catalog file readable by its owner only, creating it
// so: it names every backed-up path, and SQLite gives its journal the same
// mode. A catalog made before by a more permissive ferry is tightened.
func private(path string) error {
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("catalog: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("catalog: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		if err := f.Chmod(fi.Mode().Perm() &^ 0o077); err != nil {
			return fmt.Errorf("catalog: make %s private: %w", path, err)
		}
	}
	return nil
}

// migrateSQLite runs the migrations under an exclusive file lock, so two
// processes opening a new catalog at once do not both create it.
func migrateSQLite(ctx context.Context, db *sql.DB, path string) error {
	lf, err := os.OpenFile(path+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return fmt.Errorf("catalog: %w", err)
	}
	defer lf.Close()
	if err := syscall.Flock(int(lf.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("catalog: lock %s: %w", lf.Name(), err)
	}
	defer syscall.Flock(int(lf.Fd()), syscall.LOCK_UN)
	return migrate(ctx, db, goose.DialectSQLite3, "migrations/sqlite")
}

// migrate applies the embedded migrations of dir.
func migrate(ctx context.Context, db *sql.DB, d goose.Dialect, dir string, opts ...goose.ProviderOption) error {
	sub, err := fs.Sub(migrations, dir)
	if err != nil {
		return err
	}
	opts = append(opts, goose.WithDisableGlobalRegistry(true))
	p, err := goose.NewProvider(d, db, sub, opts...)
	if err != nil {
		return fmt.Errorf("catalog: migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("catalog: migrate: %w", err)
	}
	return nil
}

type sqliteBackend struct{ db *sql.DB }

func (sqliteBackend) postgres() bool { return false }

func (b sqliteBackend) newSink(ctx context.Context) (fileSink, error) {
	conn, err := b.db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	// A big page cache keeps a 200,000-entry transaction from spilling
	// pages into the WAL before it commits.
	if _, err := conn.ExecContext(ctx, "PRAGMA cache_size = -131072"); err != nil {
		conn.Close()
		return nil, err
	}
	return &sqliteSink{conn: conn, dirs: map[string]int64{}}, nil
}

// sqliteSink writes file history with multi-row INSERTs in one
// transaction per write, on a connection of its own.
type sqliteSink struct {
	conn  *sql.Conn
	dirs  map[string]int64 // directory path -> dirs.id
	names nameSet
	args  []any
	rev   []byte // reversed names of the current statement, one buffer
}

const (
	fileColumns   = 12
	rowsPerInsert = 1000 // 12,000 parameters; SQLite allows 32,766
)

// close gives the connection back to the pool with the default cache.
func (s *sqliteSink) close() error {
	s.conn.ExecContext(context.Background(), "PRAGMA cache_size = -2000")
	return s.conn.Close()
}

func (s *sqliteSink) write(ctx context.Context, backupID int64, files []File) error {
	tx, err := s.conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := s.resolveDirs(ctx, tx, files); err != nil {
		return err
	}
	if err := s.addNames(ctx, tx, files); err != nil {
		return err
	}
	full, err := tx.PrepareContext(ctx, insertFilesSQL(rowsPerInsert, "INSERT OR IGNORE"))
	if err != nil {
		return err
	}
	defer full.Close()
	for len(files) > 0 {
		n := min(len(files), rowsPerInsert)
		stmt := full
		if n < rowsPerInsert {
			if stmt, err = tx.PrepareContext(ctx, insertFilesSQL(n, "INSERT OR IGNORE")); err != nil {
				return err
			}
		}
		_, err = stmt.ExecContext(ctx, s.rowArgs(backupID, files[:n])...)
		if stmt != full {
			stmt.Close()
		}
		if err != nil {
			return err
		}
		files = files[n:]
	}
	return tx.Commit()
}

// rowArgs flattens entries into statement arguments. Names are bound as
// BLOBs (paths are bytes, not necessarily UTF-8); their reversals share
// one buffer.
func (s *sqliteSink) rowArgs(backupID int64, files []File) []any {
	s.args = s.args[:0]
	total := 0
	for i := range files {
		total += len(files[i].Path)
	}
	s.rev = make([]byte, 0, total) // the driver may keep references until Exec returns
	for i := range files {
		f := &files[i]
		dir, name := SplitPath(f.Path)
		start := len(s.rev)
		s.rev = appendReverse(s.rev, name)
		s.args = append(s.args, backupID, s.dirs[dir], []byte(name), s.rev[start:len(s.rev):len(s.rev)],
			int64(f.Type), int64(f.Mode), int64(f.UID), int64(f.GID), int64(f.Size), nanos(f.Mtime),
			int64(f.FhInfo), int64(f.Node))
	}
	return s.args
}

// addNames records the names of files this sink has not seen yet in the
// names table, a multi-row INSERT OR IGNORE per thousand.
func (s *sqliteSink) addNames(ctx context.Context, tx *sql.Tx, files []File) error {
	fresh := s.names.fresh(files)
	for len(fresh) > 0 {
		n := min(len(fresh), rowsPerInsert)
		q := "INSERT OR IGNORE INTO names (name) VALUES " + strings.Repeat("(?),", n-1) + "(?)"
		args := make([]any, n)
		for i, name := range fresh[:n] {
			args[i] = name
		}
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return err
		}
		fresh = fresh[n:]
	}
	return nil
}

// resolveDirs makes sure every directory of files has an id in s.dirs.
func (s *sqliteSink) resolveDirs(ctx context.Context, tx *sql.Tx, files []File) error {
	var ins, sel *sql.Stmt
	for i := range files {
		dir, _ := SplitPath(files[i].Path)
		if _, ok := s.dirs[dir]; ok {
			continue
		}
		if ins == nil {
			var err error
			if ins, err = tx.PrepareContext(ctx, `INSERT INTO dirs (path) VALUES (?) ON CONFLICT (path) DO NOTHING`); err != nil {
				return err
			}
			defer ins.Close()
			if sel, err = tx.PrepareContext(ctx, `SELECT id FROM dirs WHERE path = ?`); err != nil {
				return err
			}
			defer sel.Close()
		}
		id, err := dirID(ctx, ins, sel, dir)
		if err != nil {
			return err
		}
		s.dirs[dir] = id
	}
	return nil
}

func dirID(ctx context.Context, ins, sel *sql.Stmt, dir string) (int64, error) {
	if _, err := ins.ExecContext(ctx, []byte(dir)); err != nil {
		return 0, err
	}
	var id int64
	err := sel.QueryRowContext(ctx, []byte(dir)).Scan(&id)
	return id, err
}

// insertFilesSQL is a multi-row INSERT of n files.
func insertFilesSQL(n int, verb string) string {
	var b strings.Builder
	b.WriteString(verb)
	b.WriteString(" INTO files (backup_id, dir_id, name, name_rev, type, mode, uid, gid, size, mtime, fh_info, node) VALUES ")
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("(?,?,?,?,?,?,?,?,?,?,?,?)")
	}
	return b.String()
}
