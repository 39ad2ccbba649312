package catalog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// OpenPostgres opens the catalog in the PostgreSQL database named by dsn
// (a postgres:// URL or a key=value DSN) and brings its schema up to date.
// Migrations run under a session advisory lock, so several DMAs may start
// at once.
func OpenPostgres(ctx context.Context, dsn string) (Catalog, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("catalog: PostgreSQL DSN: %w", err)
	}
	db := sql.OpenDB(pgConnector{cfg: cfg})
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("catalog: connect to PostgreSQL: %w", err)
	}
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("catalog: %w", err)
	}
	if err := migrate(ctx, db, goose.DialectPostgres, "migrations/postgres", goose.WithSessionLocker(locker)); err != nil {
		db.Close()
		return nil, err
	}
	return &sqlCatalog{db: db, be: pgBackend{db: db}}, nil
}

// uniqueViolation is PostgreSQL's SQLSTATE for a duplicate key.
const uniqueViolation = "23505"

type pgBackend struct{ db *sql.DB }

func (pgBackend) postgres() bool { return true }

func (b pgBackend) newSink(ctx context.Context) (fileSink, error) {
	conn, err := b.db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	return &pgSink{conn: conn, dirs: map[string]int64{}}, nil
}

// pgSink writes file history with COPY into a temporary staging table
// and one INSERT ... SELECT that skips entries already present, so a
// duplicate path keeps its first entry as on SQLite.
type pgSink struct {
	conn   *sql.Conn
	dirs   map[string]int64
	names  nameSet
	staged bool
	rows   [][]any
}

func (s *pgSink) close() error { return s.conn.Close() }

var fileColumnNames = []string{"backup_id", "dir_id", "name", "name_rev", "type", "mode", "uid", "gid", "size", "mtime", "fh_info", "node"}

func (s *pgSink) write(ctx context.Context, backupID int64, files []File) error {
	return s.conn.Raw(func(dc any) error {
		c, ok := dc.(*pgConn)
		if !ok {
			return errors.New("catalog: PostgreSQL connection is not pgx")
		}
		return s.writeTx(ctx, c.c, backupID, files)
	})
}

func (s *pgSink) writeTx(ctx context.Context, c *pgx.Conn, backupID int64, files []File) error {
	if !s.staged {
		if _, err := c.Exec(ctx, `CREATE TEMPORARY TABLE IF NOT EXISTS files_stage
			(LIKE files INCLUDING DEFAULTS) ON COMMIT DELETE ROWS`); err != nil {
			return err
		}
		s.staged = true
	}
	tx, err := c.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	if err := s.resolveDirs(ctx, tx, files); err != nil {
		return err
	}
	if fresh := s.names.fresh(files); len(fresh) > 0 {
		if _, err := tx.Exec(ctx, `INSERT INTO names (name) SELECT unnest($1::bytea[]) ON CONFLICT DO NOTHING`, fresh); err != nil {
			return err
		}
	}
	rows := s.fileRows(backupID, files)
	// Fast path: COPY straight into files. A duplicate path makes it fail
	// as a whole; then the batch goes through the staging table, which
	// keeps the first entry of each path.
	if _, err := tx.Exec(ctx, `SAVEPOINT fh`); err != nil {
		return err
	}
	_, err = tx.CopyFrom(ctx, pgx.Identifier{"files"}, fileColumnNames, pgx.CopyFromRows(rows))
	var pe *pgconn.PgError
	switch {
	case err == nil:
		return tx.Commit(ctx)
	case !errors.As(err, &pe) || pe.Code != uniqueViolation:
		return err
	}
	if _, err := tx.Exec(ctx, `ROLLBACK TO SAVEPOINT fh`); err != nil {
		return err
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"files_stage"}, fileColumnNames, pgx.CopyFromRows(rows)); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO files SELECT * FROM files_stage ON CONFLICT DO NOTHING`); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

func (s *pgSink) fileRows(backupID int64, files []File) [][]any {
	s.rows = s.rows[:0]
	for i := range files {
		f := &files[i]
		dir, name := SplitPath(f.Path)
		s.rows = append(s.rows, []any{backupID, s.dirs[dir], []byte(name), reverse(name),
			int64(f.Type), int64(f.Mode), int64(f.UID), int64(f.GID), int64(f.Size), nanos(f.Mtime),
			int64(f.FhInfo), int64(f.Node)})
	}
	return s.rows
}

// resolveDirs inserts the unknown directories of files and reads their
// ids back, two statements per write.
func (s *pgSink) resolveDirs(ctx context.Context, tx pgx.Tx, files []File) error {
	var missing [][]byte
	seen := map[string]bool{}
	for i := range files {
		dir, _ := SplitPath(files[i].Path)
		if _, ok := s.dirs[dir]; ok || seen[dir] {
			continue
		}
		seen[dir] = true
		missing = append(missing, []byte(dir))
	}
	if len(missing) == 0 {
		return nil
	}
	if _, err := tx.Exec(ctx, `INSERT INTO dirs (path) SELECT unnest($1::bytea[]) ON CONFLICT (path) DO NOTHING`, missing); err != nil {
		return err
	}
	rows, err := tx.Query(ctx, `SELECT id, path FROM dirs WHERE path = ANY($1::bytea[])`, missing)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var p []byte
		if err := rows.Scan(&id, &p); err != nil {
			return err
		}
		s.dirs[string(p)] = id
	}
	return rows.Err()
}
