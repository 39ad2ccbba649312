package catalog

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// backend is what differs between SQLite and PostgreSQL.
type backend interface {
	// newSink returns the bulk writer of file history.
	newSink(ctx context.Context) (fileSink, error)
	// postgres reports whether placeholders are $n.
	postgres() bool
}

// fileSink writes batches of file-history entries, one transaction each.
type fileSink interface {
	write(ctx context.Context, backupID int64, files []File) error
	close() error
}

// sqlCatalog implements Catalog over database/sql for both backends.
type sqlCatalog struct {
	db *sql.DB
	be backend
}

var _ Catalog = (*sqlCatalog)(nil)

// q rewrites ? placeholders to $n for PostgreSQL.
func (c *sqlCatalog) q(query string) string {
	if !c.be.postgres() {
		return query
	}
	return rebind(query)
}

func rebind(query string) string {
	var b strings.Builder
	n := 0
	for i := range len(query) {
		if query[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(query[i])
	}
	return b.String()
}

func (c *sqlCatalog) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return c.db.ExecContext(ctx, c.q(query), args...)
}

// insertID runs an INSERT ... RETURNING id.
func (c *sqlCatalog) insertID(ctx context.Context, query string, args ...any) (int64, error) {
	var id int64
	err := c.db.QueryRowContext(ctx, c.q(query+" RETURNING id"), args...).Scan(&id)
	return id, err
}

// Close implements Catalog.
func (c *sqlCatalog) Close() error { return c.db.Close() }

func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

func notFound(err error, what string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%w: %s", ErrNotFound, what)
	}
	return err
}

// PutAgent implements Catalog.
func (c *sqlCatalog) PutAgent(ctx context.Context, a Agent) error {
	if a.Created.IsZero() {
		a.Created = time.Now()
	}
	_, err := c.exec(ctx, `INSERT INTO agents (name, url, secret_ref, created) VALUES (?, ?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET url = excluded.url, secret_ref = excluded.secret_ref`,
		a.Name, a.URL, a.SecretRef, nanos(a.Created))
	return err
}

// Agent implements Catalog.
func (c *sqlCatalog) Agent(ctx context.Context, name string) (Agent, error) {
	as, err := c.agents(ctx, `WHERE name = ?`, name)
	if err == nil && len(as) == 0 {
		err = fmt.Errorf("%w: agent %q", ErrNotFound, name)
	}
	if err != nil {
		return Agent{}, err
	}
	return as[0], nil
}

// Agents implements Catalog.
func (c *sqlCatalog) Agents(ctx context.Context) ([]Agent, error) { return c.agents(ctx, "") }

func (c *sqlCatalog) agents(ctx context.Context, where string, args ...any) ([]Agent, error) {
	rows, err := c.db.QueryContext(ctx, c.q(`SELECT name, url, secret_ref, created FROM agents `+where+` ORDER BY name`), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Agent
	for rows.Next() {
		var a Agent
		var created int64
		if err := rows.Scan(&a.Name, &a.URL, &a.SecretRef, &created); err != nil {
			return nil, err
		}
		a.Created = fromNanos(created)
		out = append(out, a)
	}
	return out, rows.Err()
}

// DeleteAgent implements Catalog.
func (c *sqlCatalog) DeleteAgent(ctx context.Context, name string) error {
	res, err := c.exec(ctx, `DELETE FROM agents WHERE name = ?`, name)
	return affected(res, err, "agent "+strconv.Quote(name))
}

func affected(res sql.Result, err error, what string) error {
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return fmt.Errorf("%w: %s", ErrNotFound, what)
	}
	return nil
}

func envJSON(env []Env) string {
	if env == nil {
		env = []Env{}
	}
	b, _ := json.Marshal(env) // a slice of string pairs always encodes
	return string(b)
}

// nullID maps 0 to NULL for foreign keys.
func nullID(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}

// CreateBackup implements Catalog.
func (c *sqlCatalog) CreateBackup(ctx context.Context, b *Backup) (int64, error) {
	if b.Started.IsZero() {
		b.Started = time.Now()
	}
	if b.Status == "" {
		b.Status = StatusRunning
	}
	if b.UUID == "" {
		b.UUID = NewUUID()
	}
	if err := c.resolveBase(ctx, b); err != nil {
		return 0, fmt.Errorf("catalog: create backup: %w", err)
	}
	if b.ID != 0 {
		return b.ID, c.createBackupWithID(ctx, b)
	}
	id, err := c.insertID(ctx, `INSERT INTO backups (uuid, agent, path, level, butype, base_id, base_uuid, base_token,
		dump_date, env, job_id, started, ended, status, bytes, files, error, expires)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		b.UUID, b.Agent, b.Path, b.Level, b.Butype, nullID(b.BaseID), b.BaseUUID, b.BaseToken,
		b.DumpDate, envJSON(b.Env), b.JobID, nanos(b.Started), nanos(b.Ended), b.Status, b.Bytes, b.Files, b.Error, nanos(b.Expires))
	if err != nil {
		return 0, fmt.Errorf("catalog: create backup: %w", err)
	}
	b.ID = id
	return id, nil
}

// resolveBase fills whichever of BaseID and BaseUUID b lacks. A base
// named by identity that the catalog does not have (yet: a rebuild may
// read an incremental's cartridge before its full's) leaves BaseID 0;
// a base named by id must exist.
func (c *sqlCatalog) resolveBase(ctx context.Context, b *Backup) error {
	switch {
	case b.BaseUUID != "":
		err := c.db.QueryRowContext(ctx, c.q(`SELECT id FROM backups WHERE uuid = ?`), b.BaseUUID).Scan(&b.BaseID)
		if errors.Is(err, sql.ErrNoRows) {
			b.BaseID, err = 0, nil
		}
		return err
	case b.BaseID != 0:
		err := c.db.QueryRowContext(ctx, c.q(`SELECT uuid FROM backups WHERE id = ?`), b.BaseID).Scan(&b.BaseUUID)
		return notFound(err, fmt.Sprintf("base backup %d", b.BaseID))
	}
	return nil
}

// createBackupWithID records a backup under the id it had before (a
// catalog rebuilt from cartridges); ids given out later stay above it.
func (c *sqlCatalog) createBackupWithID(ctx context.Context, b *Backup) error {
	_, err := c.exec(ctx, `INSERT INTO backups (id, uuid, agent, path, level, butype, base_id, base_uuid, base_token,
		dump_date, env, job_id, started, ended, status, bytes, files, error, expires)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		b.ID, b.UUID, b.Agent, b.Path, b.Level, b.Butype, nullID(b.BaseID), b.BaseUUID, b.BaseToken,
		b.DumpDate, envJSON(b.Env), b.JobID, nanos(b.Started), nanos(b.Ended), b.Status, b.Bytes, b.Files, b.Error, nanos(b.Expires))
	if err == nil && c.be.postgres() {
		_, err = c.exec(ctx, `SELECT setval(pg_get_serial_sequence('backups', 'id'), (SELECT MAX(id) FROM backups))`)
	}
	if err != nil {
		return fmt.Errorf("catalog: create backup %d: %w", b.ID, err)
	}
	return nil
}

// FinishBackup implements Catalog.
func (c *sqlCatalog) FinishBackup(ctx context.Context, id int64, r BackupResult) error {
	if r.Ended.IsZero() {
		r.Ended = time.Now()
	}
	res, err := c.exec(ctx, `UPDATE backups SET status = ?, ended = ?, bytes = ?, files = ?, error = ?,
		dump_date = ?, env = ? WHERE id = ?`,
		r.Status, nanos(r.Ended), r.Bytes, r.Files, r.Error, r.DumpDate, envJSON(r.Env), id)
	return affected(res, err, fmt.Sprintf("backup %d", id))
}

// backupCols are a backup's columns. The base's id is that of the backup
// with the base's identity when there is one (so the catalog's numbers
// never link a chain), else base_id (backups recorded before identities).
const backupCols = `id, uuid, agent, path, level, butype,
	CASE WHEN base_uuid <> '' THEN COALESCE((SELECT base.id FROM backups base WHERE base.uuid = backups.base_uuid), 0)
		ELSE COALESCE(base_id, 0) END,
	base_uuid, base_token, dump_date, env, job_id, started, ended, status, bytes, files, error, expires`

func scanBackup(rows *sql.Rows) (Backup, error) {
	var b Backup
	var env string
	var started, ended, expires int64
	err := rows.Scan(&b.ID, &b.UUID, &b.Agent, &b.Path, &b.Level, &b.Butype, &b.BaseID, &b.BaseUUID, &b.BaseToken,
		&b.DumpDate, &env, &b.JobID, &started, &ended, &b.Status, &b.Bytes, &b.Files, &b.Error, &expires)
	if err != nil {
		return b, err
	}
	b.Started, b.Ended, b.Expires = fromNanos(started), fromNanos(ended), fromNanos(expires)
	if err := json.Unmarshal([]byte(env), &b.Env); err != nil {
		return b, fmt.Errorf("catalog: backup %d: environment: %w", b.ID, err)
	}
	return b, nil
}

func (c *sqlCatalog) backups(ctx context.Context, where string, args ...any) ([]Backup, error) {
	if !strings.Contains(where, "ORDER BY") {
		where += " ORDER BY id"
	}
	rows, err := c.db.QueryContext(ctx, c.q(`SELECT `+backupCols+` FROM backups `+where), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Backup
	for rows.Next() {
		b, err := scanBackup(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, rows.Err()
}

// Backup implements Catalog.
func (c *sqlCatalog) Backup(ctx context.Context, id int64) (Backup, error) {
	return c.oneBackup(ctx, fmt.Sprintf("backup %d", id), `WHERE id = ?`, id)
}

// BackupByUUID implements Catalog.
func (c *sqlCatalog) BackupByUUID(ctx context.Context, uuid string) (Backup, error) {
	return c.oneBackup(ctx, "backup "+uuid, `WHERE uuid = ? AND uuid <> ''`, uuid)
}

// oneBackup returns the backup where selects, with its locations.
func (c *sqlCatalog) oneBackup(ctx context.Context, what, where string, args ...any) (Backup, error) {
	bs, err := c.backups(ctx, where, args...)
	if err == nil && len(bs) == 0 {
		err = fmt.Errorf("%w: %s", ErrNotFound, what)
	}
	if err != nil {
		return Backup{}, err
	}
	b := bs[0]
	b.Locations, err = c.locations(ctx, b.ID)
	return b, err
}

// Backups implements Catalog.
func (c *sqlCatalog) Backups(ctx context.Context, f BackupFilter) ([]Backup, error) {
	var conds []string
	var args []any
	for _, x := range []struct{ col, v string }{{"agent", f.Agent}, {"path", f.Path}, {"status", f.Status}} {
		if x.v != "" {
			conds = append(conds, x.col+" = ?")
			args = append(args, x.v)
		}
	}
	if f.Before > 0 {
		conds = append(conds, "id < ?")
		args = append(args, f.Before)
	}
	where := ""
	if len(conds) > 0 {
		where = "WHERE " + strings.Join(conds, " AND ")
	}
	if f.Newest {
		where += " ORDER BY id DESC"
	} else {
		where += " ORDER BY id"
	}
	if f.Limit > 0 {
		where += fmt.Sprintf(" LIMIT %d", f.Limit)
	}
	return c.backups(ctx, where, args...)
}

// SetExpiry implements Catalog.
func (c *sqlCatalog) SetExpiry(ctx context.Context, id int64, at time.Time) error {
	res, err := c.exec(ctx, `UPDATE backups SET expires = ? WHERE id = ?`, nanos(at), id)
	return affected(res, err, fmt.Sprintf("backup %d", id))
}

// Expirable implements Catalog.
func (c *sqlCatalog) Expirable(ctx context.Context, now time.Time) ([]int64, error) {
	bs, err := c.backups(ctx, `WHERE status <> ?`, StatusExpired)
	if err != nil {
		return nil, err
	}
	return expirable(bs, now), nil
}

// Expire implements Catalog.
func (c *sqlCatalog) Expire(ctx context.Context, now time.Time) ([]int64, error) {
	due, err := c.Expirable(ctx, now)
	if err != nil {
		return nil, err
	}
	for _, id := range due {
		if _, err := c.exec(ctx, `UPDATE backups SET status = ? WHERE id = ?`, StatusExpired, id); err != nil {
			return nil, fmt.Errorf("catalog: expire backup %d: %w", id, err)
		}
	}
	return due, nil
}

// Chain implements Catalog.
func (c *sqlCatalog) Chain(ctx context.Context, id int64) ([]Backup, error) {
	var chain []Backup
	seen := map[int64]bool{}
	for id != 0 {
		if seen[id] {
			return nil, fmt.Errorf("catalog: backup %d: base chain loops", id)
		}
		seen[id] = true
		b, err := c.Backup(ctx, id)
		if err != nil {
			return nil, err
		}
		chain = append(chain, b)
		if id, err = c.baseOf(ctx, b); err != nil {
			return nil, err
		}
	}
	for i, j := 0, len(chain)-1; i < j; i, j = i+1, j-1 {
		chain[i], chain[j] = chain[j], chain[i]
	}
	return chain, nil
}

// baseOf returns the id of the backup b is based on, 0 for a full.
func (c *sqlCatalog) baseOf(ctx context.Context, b Backup) (int64, error) {
	switch {
	case b.BaseID != 0:
		return b.BaseID, nil
	case b.BaseUUID != "":
		return 0, fmt.Errorf("%w: backup %d is based on backup %s", ErrNoBase, b.ID, b.BaseUUID)
	case b.Level == 0:
		return 0, nil
	}
	// An incremental without identities whose base is not linked: one
	// rebuilt from a cartridge written before backups had identities, read
	// before its base's. Its base is the backup of the same agent and path
	// whose DUMP_DATE token it was given, if exactly one has it.
	rows, err := c.db.QueryContext(ctx, c.q(`SELECT id FROM backups WHERE agent = ? AND path = ? AND dump_date = ?
		AND dump_date <> '' AND level < ? AND id <> ? AND status = ?`), b.Agent, b.Path, b.BaseToken, b.Level, b.ID, StatusSucceeded)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return 0, err
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return 0, err
	}
	if len(ids) != 1 {
		return 0, fmt.Errorf("%w: backup %d (level %d of %s:%s) is based on the backup of dump date %q; %d found",
			ErrNoBase, b.ID, b.Level, b.Agent, b.Path, b.BaseToken, len(ids))
	}
	return ids[0], nil
}

// DeleteBackup implements Catalog.
func (c *sqlCatalog) DeleteBackup(ctx context.Context, id int64) error {
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, s := range []string{`DELETE FROM files WHERE backup_id = ?`, `DELETE FROM locations WHERE backup_id = ?`,
		`DELETE FROM checksums WHERE backup_id = ?`, `DELETE FROM image_files WHERE backup_id = ?`} {
		if _, err := tx.ExecContext(ctx, c.q(s), id); err != nil {
			return err
		}
	}
	res, err := tx.ExecContext(ctx, c.q(`DELETE FROM backups WHERE id = ?`), id)
	if err := affected(res, err, fmt.Sprintf("backup %d", id)); err != nil {
		return err
	}
	return tx.Commit()
}

// AddLocation implements Catalog.
func (c *sqlCatalog) AddLocation(ctx context.Context, l Location) error {
	_, err := c.exec(ctx, `INSERT INTO locations (backup_id, seq, barcode, file_num, record_size, byte_offset, length)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, l.BackupID, l.Seq, l.Barcode, l.FileNum, l.RecordSize, l.Offset, l.Length)
	if err != nil {
		return fmt.Errorf("catalog: add location of backup %d: %w", l.BackupID, err)
	}
	return nil
}

func (c *sqlCatalog) locations(ctx context.Context, id int64) ([]Location, error) {
	return c.queryLocations(ctx, `WHERE backup_id = ? ORDER BY seq`, id)
}

// OnMedium implements Catalog.
func (c *sqlCatalog) OnMedium(ctx context.Context, barcode string) ([]Location, error) {
	return c.queryLocations(ctx, `WHERE barcode = ? ORDER BY file_num, backup_id, seq`, barcode)
}

func (c *sqlCatalog) queryLocations(ctx context.Context, where string, args ...any) ([]Location, error) {
	rows, err := c.db.QueryContext(ctx, c.q(`SELECT backup_id, seq, barcode, file_num, record_size, byte_offset, length
		FROM locations `+where), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Location
	for rows.Next() {
		var l Location
		if err := rows.Scan(&l.BackupID, &l.Seq, &l.Barcode, &l.FileNum, &l.RecordSize, &l.Offset, &l.Length); err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

// PutMedium implements Catalog.
func (c *sqlCatalog) PutMedium(ctx context.Context, m Medium) error {
	if m.Updated.IsZero() {
		m.Updated = time.Now()
	}
	if m.Pool == "" {
		m.Pool = DefaultPool
	}
	_, err := c.exec(ctx, `INSERT INTO media (barcode, library, label, state, capacity, used, next_file, updated, pool)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (barcode) DO UPDATE SET library = excluded.library,
		label = excluded.label, state = excluded.state, capacity = excluded.capacity, used = excluded.used,
		next_file = excluded.next_file, updated = excluded.updated, pool = excluded.pool`,
		m.Barcode, m.Library, m.Label, m.State, m.Capacity, m.Used, m.NextFile, nanos(m.Updated), m.Pool)
	return err
}

// Medium implements Catalog.
func (c *sqlCatalog) Medium(ctx context.Context, barcode string) (Medium, error) {
	ms, err := c.media(ctx, `WHERE barcode = ?`, barcode)
	if err == nil && len(ms) == 0 {
		err = fmt.Errorf("%w: medium %q", ErrNotFound, barcode)
	}
	if err != nil {
		return Medium{}, err
	}
	return ms[0], nil
}

// Media implements Catalog.
func (c *sqlCatalog) Media(ctx context.Context) ([]Medium, error) { return c.media(ctx, "") }

func (c *sqlCatalog) media(ctx context.Context, where string, args ...any) ([]Medium, error) {
	rows, err := c.db.QueryContext(ctx, c.q(`SELECT barcode, library, label, state, capacity, used, next_file, updated, pool
		FROM media `+where+` ORDER BY barcode`), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Medium
	for rows.Next() {
		var m Medium
		var upd int64
		if err := rows.Scan(&m.Barcode, &m.Library, &m.Label, &m.State, &m.Capacity, &m.Used, &m.NextFile, &upd, &m.Pool); err != nil {
			return nil, err
		}
		m.Updated = fromNanos(upd)
		out = append(out, m)
	}
	return out, rows.Err()
}

// checksumRows is how many checksums one INSERT carries (3 parameters
// each, within SQLite's and PostgreSQL's limits).
const checksumRows = 4096

// AddChecksums implements Catalog.
func (c *sqlCatalog) AddChecksums(ctx context.Context, backupID int64, sums []Checksum) error {
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var q strings.Builder
	args := make([]any, 0, 3*min(len(sums), checksumRows))
	for len(sums) > 0 {
		n := min(len(sums), checksumRows)
		q.Reset()
		q.WriteString(`INSERT INTO checksums (backup_id, fh_info, crc32c) VALUES `)
		args = args[:0]
		for i, s := range sums[:n] {
			if i > 0 {
				q.WriteString(", ")
			}
			q.WriteString("(?, ?, ?)")
			args = append(args, backupID, int64(s.FhInfo), int64(s.CRC32C))
		}
		q.WriteString(` ON CONFLICT (backup_id, fh_info) DO UPDATE SET crc32c = excluded.crc32c`)
		if _, err := tx.ExecContext(ctx, c.q(q.String()), args...); err != nil {
			return fmt.Errorf("catalog: checksums of backup %d: %w", backupID, err)
		}
		sums = sums[n:]
	}
	return tx.Commit()
}

// Checksums implements Catalog.
func (c *sqlCatalog) Checksums(ctx context.Context, backupID int64) (map[uint64]uint32, error) {
	rows, err := c.db.QueryContext(ctx, c.q(`SELECT fh_info, crc32c FROM checksums WHERE backup_id = ?`), backupID)
	if err != nil {
		return nil, fmt.Errorf("catalog: checksums of backup %d: %w", backupID, err)
	}
	defer rows.Close()
	out := map[uint64]uint32{}
	for rows.Next() {
		var fh, crc int64
		if err := rows.Scan(&fh, &crc); err != nil {
			return nil, err
		}
		out[uint64(fh)] = uint32(crc)
	}
	return out, rows.Err()
}
