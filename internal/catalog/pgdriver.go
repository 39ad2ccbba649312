package catalog

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"

	"github.com/jackc/pgx/v5"
)

// A minimal database/sql driver over pgx.Conn, so that goose and the
// shared SQL code run on PostgreSQL. (pgx's own stdlib adapter pulls in
// pgxpool and its pool dependency, which ferry does not vet.) The raw
// *pgx.Conn stays reachable through sql.Conn.Raw for COPY.

type pgConnector struct{ cfg *pgx.ConnConfig }

func (c pgConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := pgx.ConnectConfig(ctx, c.cfg.Copy())
	if err != nil {
		return nil, err
	}
	return &pgConn{c: conn}, nil
}

func (c pgConnector) Driver() driver.Driver { return pgDriver{} }

type pgDriver struct{}

func (pgDriver) Open(string) (driver.Conn, error) {
	return nil, errors.New("catalog: the PostgreSQL driver is opened through a connector")
}

// pgConn is one PostgreSQL connection.
type pgConn struct{ c *pgx.Conn }

var (
	_ driver.ConnBeginTx                    = (*pgConn)(nil)
	_ driver.ExecerContext                  = (*pgConn)(nil)
	_ driver.QueryerContext                 = (*pgConn)(nil)
	_ driver.NamedValueChecker              = (*pgConn)(nil)
	_ driver.Validator                      = (*pgConn)(nil)
	_ driver.StmtExecContext                = (*pgStmt)(nil)
	_ driver.StmtQueryContext               = (*pgStmt)(nil)
	_ driver.RowsColumnTypeDatabaseTypeName = (*pgRows)(nil)
)

func (p *pgConn) Prepare(query string) (driver.Stmt, error) { return &pgStmt{p: p, q: query}, nil }

func (p *pgConn) Close() error { return p.c.Close(context.Background()) }

func (p *pgConn) Begin() (driver.Tx, error) {
	return p.BeginTx(context.Background(), driver.TxOptions{})
}

func (p *pgConn) BeginTx(ctx context.Context, o driver.TxOptions) (driver.Tx, error) {
	opts := pgx.TxOptions{}
	if o.ReadOnly {
		opts.AccessMode = pgx.ReadOnly
	}
	tx, err := p.c.BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	return pgTx{tx}, nil
}

func (p *pgConn) IsValid() bool { return !p.c.IsClosed() }

// CheckNamedValue passes every argument to pgx unchanged.
func (p *pgConn) CheckNamedValue(*driver.NamedValue) error { return nil }

func args(nv []driver.NamedValue) []any {
	a := make([]any, len(nv))
	for i, v := range nv {
		a[i] = v.Value
	}
	return a
}

func (p *pgConn) ExecContext(ctx context.Context, query string, nv []driver.NamedValue) (driver.Result, error) {
	tag, err := p.c.Exec(ctx, query, args(nv)...)
	if err != nil {
		return nil, err
	}
	return driver.RowsAffected(tag.RowsAffected()), nil
}

func (p *pgConn) QueryContext(ctx context.Context, query string, nv []driver.NamedValue) (driver.Rows, error) {
	rows, err := p.c.Query(ctx, query, args(nv)...)
	if err != nil {
		return nil, err
	}
	return &pgRows{r: rows}, nil
}

type pgTx struct{ tx pgx.Tx }

func (t pgTx) Commit() error   { return t.tx.Commit(context.Background()) }
func (t pgTx) Rollback() error { return t.tx.Rollback(context.Background()) }

type pgStmt struct {
	p *pgConn
	q string
}

func (s *pgStmt) Close() error  { return nil }
func (s *pgStmt) NumInput() int { return -1 }

func (s *pgStmt) Exec(v []driver.Value) (driver.Result, error) {
	return s.ExecContext(context.Background(), named(v))
}

func (s *pgStmt) Query(v []driver.Value) (driver.Rows, error) {
	return s.QueryContext(context.Background(), named(v))
}

func (s *pgStmt) ExecContext(ctx context.Context, nv []driver.NamedValue) (driver.Result, error) {
	return s.p.ExecContext(ctx, s.q, nv)
}

func (s *pgStmt) QueryContext(ctx context.Context, nv []driver.NamedValue) (driver.Rows, error) {
	return s.p.QueryContext(ctx, s.q, nv)
}

func named(v []driver.Value) []driver.NamedValue {
	nv := make([]driver.NamedValue, len(v))
	for i := range v {
		nv[i] = driver.NamedValue{Ordinal: i + 1, Value: v[i]}
	}
	return nv
}

type pgRows struct{ r pgx.Rows }

func (r *pgRows) Columns() []string {
	fd := r.r.FieldDescriptions()
	cols := make([]string, len(fd))
	for i, f := range fd {
		cols[i] = f.Name
	}
	return cols
}

func (r *pgRows) ColumnTypeDatabaseTypeName(i int) string {
	return fmt.Sprint(r.r.FieldDescriptions()[i].DataTypeOID)
}

func (r *pgRows) Close() error {
	r.r.Close()
	return r.r.Err()
}

func (r *pgRows) Next(dest []driver.Value) error {
	if !r.r.Next() {
		if err := r.r.Err(); err != nil {
			return err
		}
		return io.EOF
	}
	vals, err := r.r.Values()
	if err != nil {
		return err
	}
	for i := range dest {
		dest[i] = driverValue(vals[i])
	}
	return nil
}

// driverValue narrows pgx's decoded values to database/sql's set.
func driverValue(v any) driver.Value {
	switch x := v.(type) {
	case nil, int64, float64, bool, []byte, string:
		return x
	case int32:
		return int64(x)
	case int16:
		return int64(x)
	case int8:
		return int64(x)
	case float32:
		return float64(x)
	}
	if dv, err := driver.DefaultParameterConverter.ConvertValue(v); err == nil {
		return dv
	}
	return fmt.Sprint(v)
}
