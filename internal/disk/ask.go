package disk

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// SnapshotRequest is one snapshot operation, run by the process that
// tracks the disk: this one when no other serves it, else the serving
// target, which finds the request in NAME.snap/requests (docs/disk.md,
// "Asking the target").
type SnapshotRequest struct {
	Op       string        `json:"op"` // create, list, renew, release, forget, changed
	Snapshot string        `json:"snapshot,omitempty"`
	To       string        `json:"to,omitempty"` // changed: up to this snapshot; empty is now
	CowLimit int64         `json:"cow_limit,omitempty"`
	Lease    time.Duration `json:"lease,omitempty"`
}

// SnapshotReply is a request's answer.
type SnapshotReply struct {
	Snapshots []Snapshot `json:"snapshots,omitempty"`
	Changed   []Extent   `json:"changed,omitempty"`
	// Error is the failure's message; Kind the message of the package
	// error it wraps, so the asker gets errors.Is back.
	Error string `json:"error,omitempty"`
	Kind  string `json:"kind,omitempty"`
}

// kinds are the errors a reply carries by name.
var kinds = []error{ErrNotFound, ErrBadName, ErrSnapshotExists, ErrNoSnapshot, ErrSnapshotInvalid,
	ErrSnapshotReleased, ErrChangesUnknown, ErrBusy}

// Do runs req on the disk's snapshots.
func (d *Disk) Do(req SnapshotRequest) (SnapshotReply, error) {
	var r SnapshotReply
	var err error
	var one Snapshot
	switch req.Op {
	case "create":
		one, err = d.Snapshot(SnapshotOptions{Name: req.Snapshot, CowLimit: req.CowLimit, Lease: req.Lease})
		r.Snapshots = []Snapshot{one}
	case "list":
		r.Snapshots, err = d.Snapshots()
	case "renew":
		one, err = d.RenewSnapshot(req.Snapshot, req.Lease)
		r.Snapshots = []Snapshot{one}
	case "release":
		err = d.ReleaseSnapshot(req.Snapshot)
	case "forget":
		err = d.ForgetSnapshot(req.Snapshot)
	case "changed":
		r.Changed, err = d.ChangedBlocks(req.Snapshot, req.To)
	default:
		err = fmt.Errorf("disk: unknown snapshot operation %q", req.Op)
	}
	if err != nil {
		return SnapshotReply{}, err
	}
	return r, nil
}

// Ask runs req on the disk name in dir: here when no process serves the
// disk, else through the serving target, waiting for its answer until
// ctx ends.
func Ask(ctx context.Context, dir, name string, req SnapshotRequest) (SnapshotReply, error) {
	d, err := Open(dir, name)
	if err != nil {
		return SnapshotReply{}, err
	}
	if d.trk != nil {
		defer d.Close()
		return d.Do(req)
	}
	reqDir := filepath.Join(d.snapDir(), "requests")
	d.Close()
	if err := os.MkdirAll(reqDir, 0o700); err != nil {
		return SnapshotReply{}, err
	}
	b, _ := json.Marshal(req)
	id := make([]byte, 8)
	rand.Read(id)
	base := filepath.Join(reqDir, hex.EncodeToString(id))
	if err := replaceFile(base+".json", b); err != nil {
		return SnapshotReply{}, err
	}
	defer os.Remove(base + ".json")
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		b, err := os.ReadFile(base + ".reply")
		if err == nil {
			os.Remove(base + ".reply")
			return decodeReply(b)
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return SnapshotReply{}, err
		}
		select {
		case <-ctx.Done():
			return SnapshotReply{}, fmt.Errorf("disk %s: the serving target did not answer: %w", name, ctx.Err())
		case <-tick.C:
		}
	}
}

// decodeReply turns a reply file back into a result.
func decodeReply(b []byte) (SnapshotReply, error) {
	var r SnapshotReply
	if err := json.Unmarshal(b, &r); err != nil {
		return SnapshotReply{}, fmt.Errorf("disk: malformed snapshot reply: %w", err)
	}
	if r.Error == "" {
		return r, nil
	}
	for _, k := range kinds {
		if r.Kind == k.Error() {
			return SnapshotReply{}, fmt.Errorf("%w (%s)", k, strings.TrimPrefix(r.Error, k.Error()+": "))
		}
	}
	return SnapshotReply{}, errors.New(r.Error)
}

// AnswerRequests runs the snapshot requests other processes left for
// this one (it tracks the disk) and writes their replies. The serving
// target calls it now and then.
func (d *Disk) AnswerRequests() error {
	if d.trk == nil {
		return nil
	}
	paths, err := filepath.Glob(filepath.Join(d.snapDir(), "requests", "*.json"))
	if err != nil {
		return err
	}
	var errs []error
	for _, p := range paths {
		if strings.HasPrefix(filepath.Base(p), ".") {
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil {
			continue // the asker gave up
		}
		var req SnapshotRequest
		var reply SnapshotReply
		if err := json.Unmarshal(b, &req); err != nil {
			reply.Error = fmt.Sprintf("disk: malformed snapshot request: %v", err)
		} else if reply, err = d.Do(req); err != nil {
			reply = SnapshotReply{Error: err.Error()}
			for _, k := range kinds {
				if errors.Is(err, k) {
					reply.Kind = k.Error()
					break
				}
			}
		}
		out, _ := json.Marshal(reply)
		os.Remove(p)
		errs = append(errs, replaceFile(strings.TrimSuffix(p, ".json")+".reply", out))
	}
	return errors.Join(errs...)
}
