package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"ferry/internal/disk"
	"ferry/internal/httpapi/token"
	"ferry/internal/node"
)

// The snapshot service: a data manager takes a point-in-time image of a
// served disk, renews its lease while it copies the snapshot's LU,
// releases it, and asks which blocks changed between two snapshots
// (docs/http-api.md, Snapshots). Each route calls node.ISCSIServer.

// SnapshotRequest is the body of POST /api/v1/disks/{name}/snapshots;
// every field may be left out.
type SnapshotRequest struct {
	Name         string `json:"name,omitempty"`
	CowLimit     int64  `json:"cow_limit,omitempty"`     // bytes; 0: 10% of the disk
	LeaseSeconds int64  `json:"lease_seconds,omitempty"` // 0: 15 minutes
}

// RenewRequest is the body of POST .../snapshots/{snap}/renew.
type RenewRequest struct {
	LeaseSeconds int64 `json:"lease_seconds,omitempty"` // 0: 15 minutes
}

// Changes is the answer of GET /api/v1/disks/{name}/changes.
type Changes struct {
	Disk    string        `json:"disk"`
	From    string        `json:"from"`
	To      string        `json:"to,omitempty"` // "": until now
	Extents []disk.Extent `json:"extents"`
}

// CodeChangesUnknown is the error code of a changes request whose change
// map may miss writes (the target restarted while serving the disk): the
// caller must copy everything.
const CodeChangesUnknown = "changes_unknown"

// maxSnapshotBody caps a snapshot request's body.
const maxSnapshotBody = 1 << 16

// tokenKey carries the request's token to the handlers that treat
// read-only tokens apart.
type tokenKey struct{}

func withToken(ctx context.Context, t token.Token) context.Context {
	return context.WithValue(ctx, tokenKey{}, t)
}

func readOnly(r *http.Request) bool {
	t, ok := r.Context().Value(tokenKey{}).(token.Token)
	return !ok || t.ReadOnly
}

// target is the node's iSCSI target, or a 404 when it runs none.
func (a *API) iscsiTarget() (*node.ISCSIServer, error) {
	if a.cfg.Target == nil {
		return nil, notFound("this node serves no iSCSI target, so no snapshots (ferry serve --iscsi)")
	}
	return a.cfg.Target, nil
}

// snapshotError maps the disk package's errors to statuses and codes.
func snapshotError(err error) error {
	status, code := 0, ""
	switch {
	case errors.Is(err, disk.ErrNotFound), errors.Is(err, disk.ErrNoSnapshot):
		status, code = http.StatusNotFound, "not_found"
	case errors.Is(err, disk.ErrBadName):
		status, code = http.StatusBadRequest, "bad_request"
	case errors.Is(err, disk.ErrChangesUnknown):
		status, code = http.StatusConflict, CodeChangesUnknown
	case errors.Is(err, disk.ErrSnapshotExists), errors.Is(err, disk.ErrSnapshotInvalid),
		errors.Is(err, disk.ErrSnapshotReleased), errors.Is(err, disk.ErrBusy):
		status, code = http.StatusConflict, "conflict"
	default:
		return err
	}
	return &apiError{status, code, err.Error()}
}

// decodeBody reads an optional JSON body into v: empty is all defaults.
func decodeBody(r *http.Request, v any) error {
	b, err := io.ReadAll(io.LimitReader(r.Body, maxSnapshotBody+1))
	if err != nil {
		return badRequest("read the body: %v", err)
	}
	if len(b) > maxSnapshotBody {
		return badRequest("body over %d bytes", maxSnapshotBody)
	}
	if len(b) == 0 {
		return nil
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return badRequest("body: %v", err)
	}
	return nil
}

func lease(seconds int64) (time.Duration, error) {
	if seconds < 0 || seconds > 7*24*3600 {
		return 0, badRequest("lease_seconds %d: want 0 (15 minutes) to 604800", seconds)
	}
	return time.Duration(seconds) * time.Second, nil
}

func (a *API) snapshots(w http.ResponseWriter, r *http.Request) error {
	s, err := a.iscsiTarget()
	if err != nil {
		return err
	}
	out, err := s.Snapshots(r.PathValue("name"))
	if err != nil {
		return snapshotError(err)
	}
	return writeJSON(w, http.StatusOK, out)
}

func (a *API) takeSnapshot(w http.ResponseWriter, r *http.Request) error {
	s, err := a.iscsiTarget()
	if err != nil {
		return err
	}
	var req SnapshotRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	l, err := lease(req.LeaseSeconds)
	if err != nil {
		return err
	}
	if req.CowLimit < 0 {
		return badRequest("cow_limit %d: want bytes, or 0 for 10%% of the disk", req.CowLimit)
	}
	info, err := s.Snapshot(r.PathValue("name"), disk.SnapshotOptions{Name: req.Name, CowLimit: req.CowLimit, Lease: l})
	if err != nil {
		return snapshotError(err)
	}
	return writeJSON(w, http.StatusCreated, info)
}

func (a *API) renewSnapshot(w http.ResponseWriter, r *http.Request) error {
	s, err := a.iscsiTarget()
	if err != nil {
		return err
	}
	var req RenewRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	l, err := lease(req.LeaseSeconds)
	if err != nil {
		return err
	}
	if l == 0 {
		l = disk.DefaultLease
	}
	info, err := s.RenewSnapshot(r.PathValue("name"), r.PathValue("snap"), l)
	if err != nil {
		return snapshotError(err)
	}
	return writeJSON(w, http.StatusOK, info)
}

func (a *API) releaseSnapshot(w http.ResponseWriter, r *http.Request) error {
	s, err := a.iscsiTarget()
	if err != nil {
		return err
	}
	forget, err := boolParam(r, "forget")
	if err != nil {
		return err
	}
	if err := s.ReleaseSnapshot(r.PathValue("name"), r.PathValue("snap"), forget); err != nil {
		return snapshotError(err)
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// changes answers the blocks written between two snapshots. A read-only
// token may not ask: the change map tells where a host writes, which a
// scraper has no need to know.
func (a *API) changes(w http.ResponseWriter, r *http.Request) error {
	if readOnly(r) {
		return &apiError{http.StatusForbidden, "forbidden", "changed blocks need a read-write token"}
	}
	s, err := a.iscsiTarget()
	if err != nil {
		return err
	}
	q := r.URL.Query()
	c := Changes{Disk: r.PathValue("name"), From: q.Get("from"), To: q.Get("to")}
	if c.From == "" {
		return badRequest("from=SNAPSHOT is required")
	}
	exts, err := s.ChangedBlocks(c.Disk, c.From, c.To)
	if err != nil {
		return snapshotError(err)
	}
	c.Extents = exts
	if c.Extents == nil {
		c.Extents = []disk.Extent{}
	}
	return writeJSON(w, http.StatusOK, c)
}

func boolParam(r *http.Request, name string) (bool, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, badRequest("%s=%q: want 1, 0, true or false", name, v)
	}
	return b, nil
}
