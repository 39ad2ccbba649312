package catalog

import (
	"context"
	"fmt"
	"strconv"
	"time"
)

// SANTargetCatalog is the SAN targets (iSCSI targets with a copy manager)
// the data manager runs serverless backups on.
type SANTargetCatalog interface {
	// PutSANTarget adds or replaces a target by name.
	PutSANTarget(ctx context.Context, t SANTarget) error
	// SANTarget returns the target called name, or ErrNotFound.
	SANTarget(ctx context.Context, name string) (SANTarget, error)
	// SANTargets lists targets by name.
	SANTargets(ctx context.Context) ([]SANTarget, error)
	// DeleteSANTarget removes a target (its backups stay).
	DeleteSANTarget(ctx context.Context, name string) error
}

// SANTarget is a registered iSCSI target. As for agents, secrets are
// never stored here: SecretRef names the file holding the CHAP secret
// ("" when the target asks for no CHAP), TokenRef the file holding the
// bearer token of its management API.
type SANTarget struct {
	Name      string
	URL       string // iscsi://HOST:PORT/IQN
	SecretRef string
	// APIURL is the target's management API (its snapshot service),
	// http(s)://HOST:PORT; "" when it has none: disks are copied live.
	APIURL   string
	TokenRef string
	Created  time.Time
}

// PutSANTarget implements Catalog.
func (c *sqlCatalog) PutSANTarget(ctx context.Context, t SANTarget) error {
	if t.Created.IsZero() {
		t.Created = time.Now()
	}
	_, err := c.exec(ctx, `INSERT INTO san_targets (name, url, secret_ref, api_url, token_ref, created) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET url = excluded.url, secret_ref = excluded.secret_ref,
		api_url = excluded.api_url, token_ref = excluded.token_ref`,
		t.Name, t.URL, t.SecretRef, t.APIURL, t.TokenRef, nanos(t.Created))
	return err
}

// SANTarget implements Catalog.
func (c *sqlCatalog) SANTarget(ctx context.Context, name string) (SANTarget, error) {
	ts, err := c.sanTargets(ctx, `WHERE name = ?`, name)
	if err == nil && len(ts) == 0 {
		err = fmt.Errorf("%w: SAN target %q", ErrNotFound, name)
	}
	if err != nil {
		return SANTarget{}, err
	}
	return ts[0], nil
}

// SANTargets implements Catalog.
func (c *sqlCatalog) SANTargets(ctx context.Context) ([]SANTarget, error) {
	return c.sanTargets(ctx, "")
}

func (c *sqlCatalog) sanTargets(ctx context.Context, where string, args ...any) ([]SANTarget, error) {
	rows, err := c.db.QueryContext(ctx, c.q(`SELECT name, url, secret_ref, api_url, token_ref, created FROM san_targets `+where+` ORDER BY name`), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []SANTarget
	for rows.Next() {
		var t SANTarget
		var created int64
		if err := rows.Scan(&t.Name, &t.URL, &t.SecretRef, &t.APIURL, &t.TokenRef, &created); err != nil {
			return nil, err
		}
		t.Created = fromNanos(created)
		out = append(out, t)
	}
	return out, rows.Err()
}

// DeleteSANTarget implements Catalog.
func (c *sqlCatalog) DeleteSANTarget(ctx context.Context, name string) error {
	res, err := c.exec(ctx, `DELETE FROM san_targets WHERE name = ?`, name)
	return affected(res, err, "SAN target "+strconv.Quote(name))
}
