package dma

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"ferry/internal/disk"
	"ferry/internal/node"
)

// Errors of a target's snapshot service.
var (
	// ErrChangesUnknown: the target cannot tell the blocks changed since
	// a snapshot (its change map may miss writes, or it forgot the
	// snapshot); an incremental becomes a full.
	ErrChangesUnknown = errors.New("dma: the target cannot tell the changed blocks")
	// ErrSnapshotService: the target's management API refused or failed.
	ErrSnapshotService = errors.New("dma: snapshot service")
)

// snapLease is the lease a serverless backup takes its snapshot with;
// the job renews it every snapLease/3 while it runs, so a data manager
// that dies leaves a snapshot that the target frees within snapLease.
var snapLease = 5 * time.Minute

// snapService is a target's management API as a serverless backup uses
// it: take, renew and release snapshots, ask changed blocks
// (docs/http-api.md, Snapshots).
type snapService struct {
	base  string // http(s)://HOST:PORT
	token string
	hc    *http.Client
}

func newSnapService(base, token string) *snapService {
	return &snapService{base: strings.TrimRight(base, "/"), token: token, hc: &http.Client{Timeout: 30 * time.Second}}
}

// apiError is the error body of the management API.
type apiErrorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// call sends a request and decodes a 2xx answer into out (nil: none).
func (s *snapService) call(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, s.base+path, body)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrSnapshotService, err)
	}
	req.Header.Set("Authorization", "Bearer "+s.token)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := s.hc.Do(req)
	if err != nil {
		return fmt.Errorf("%w: %s %s: %v", ErrSnapshotService, method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("%w: %s %s: %v", ErrSnapshotService, method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		var e apiErrorBody
		_ = json.Unmarshal(b, &e)
		if e.Error.Code == "changes_unknown" || (e.Error.Code == "not_found" && strings.Contains(path, "/changes")) {
			return fmt.Errorf("%w: %s", ErrChangesUnknown, e.Error.Message)
		}
		return fmt.Errorf("%w: %s %s: %d %s: %s", ErrSnapshotService, method, path, resp.StatusCode, e.Error.Code, e.Error.Message)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%w: %s %s: %v", ErrSnapshotService, method, path, err)
	}
	return nil
}

func diskPath(name string) string { return "/api/v1/disks/" + url.PathEscape(name) }

// take snapshots disk name; the answer carries the LU serving it.
func (s *snapService) take(ctx context.Context, name, snap string, lease time.Duration) (node.SnapshotInfo, error) {
	var info node.SnapshotInfo
	in := map[string]any{"name": snap, "lease_seconds": int64(lease / time.Second)}
	if err := s.call(ctx, "POST", diskPath(name)+"/snapshots", in, &info); err != nil {
		return info, err
	}
	if info.LU == nil {
		return info, fmt.Errorf("%w: snapshot %s of %s is served on no LU", ErrSnapshotService, snap, name)
	}
	return info, nil
}

func (s *snapService) renew(ctx context.Context, name, snap string, lease time.Duration) error {
	return s.call(ctx, "POST", diskPath(name)+"/snapshots/"+url.PathEscape(snap)+"/renew",
		map[string]any{"lease_seconds": int64(lease / time.Second)}, nil)
}

func (s *snapService) release(ctx context.Context, name, snap string) error {
	return s.call(ctx, "DELETE", diskPath(name)+"/snapshots/"+url.PathEscape(snap), nil, nil)
}

// changes returns the blocks written between snapshots from and to.
func (s *snapService) changes(ctx context.Context, name, from, to string) ([]extent, error) {
	var out struct {
		Extents []disk.Extent `json:"extents"`
	}
	q := url.Values{"from": {from}, "to": {to}}
	if err := s.call(ctx, "GET", diskPath(name)+"/changes?"+q.Encode(), nil, &out); err != nil {
		return nil, err
	}
	exts := make([]extent, 0, len(out.Extents))
	for _, e := range out.Extents {
		exts = append(exts, extent{e.LBA, e.Blocks})
	}
	return exts, nil
}

// snapshotUnit is the snapshot's LU: its LUN and the unit ID an EXTENDED
// COPY names it by.
func snapshotUnit(info node.SnapshotInfo) (uint64, unitID, error) {
	naa, err := hex.DecodeString(info.LU.NAA)
	if err != nil || len(naa) != 8 {
		return 0, unitID{}, fmt.Errorf("%w: snapshot %s: NAA %q", ErrSnapshotService, info.Name, info.LU.NAA)
	}
	return info.LU.LUN, unitID{pdt: pdtDisk, naa: naa}, nil
}

// keepLease renews the snapshot every snapLease/3 until stop is called;
// a renewal that fails is logged once (the copy then fails on the
// expired snapshot, never copies a changing disk).
func (r *serverlessBackup) keepLease(ctx context.Context) (stop func()) {
	return every(ctx, snapLease/3, func() {
		if err := r.snaps.renew(ctx, r.diskName, r.snapName, snapLease); err != nil {
			r.renewErr.CompareAndSwap(nil, &err)
		}
	})
}
