package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"ferry/internal/catalog"
	"ferry/internal/dma"
)

// stateEvery is how often a stream reads the state of a job this process
// runs from the catalog (a cancel asked elsewhere shows as cancelling);
// its progress comes from the job directly.
const stateEvery = time.Second

// jobEvent is the data of one server-sent event about a job: "progress"
// while it runs, "end" once, last.
type jobEvent struct {
	Job            int64      `json:"job"`
	Kind           string     `json:"kind"`
	State          string     `json:"state"`
	Phase          string     `json:"phase,omitempty"`
	Bytes          int64      `json:"bytes"`
	Files          int64      `json:"files"`
	Total          int64      `json:"total,omitempty"` // estimated bytes of the whole job; 0 unknown
	Rate           float64    `json:"rate"`            // bytes per second over the phase
	ElapsedSeconds float64    `json:"elapsed_seconds"`
	BackupID       int64      `json:"backup_id,omitempty"`
	Ended          *time.Time `json:"ended,omitempty"`
	Error          string     `json:"error,omitempty"`
}

func eventOf(j catalog.Job, p dma.Progress) jobEvent {
	e := jobEvent{Job: j.ID, Kind: j.Kind, State: j.State, Phase: p.Phase, Bytes: p.Bytes, Files: p.Files,
		Total: p.Total, Rate: p.Rate, ElapsedSeconds: p.Elapsed.Seconds(), BackupID: j.BackupID, Error: j.Error}
	if !j.Ended.IsZero() {
		e.Ended = &j.Ended
	}
	return e
}

// jobEvents streams a job's progress as server-sent events: one at once,
// then at each progress report of the job and at least every
// progressEvery, and a final "end" event with how the job ended, after
// which the stream closes. A job that already ended gets its end event at
// once. Progress figures come from jobs this process runs; a job of
// another process (ferry backup on the CLI) is followed through the
// catalog, its state only.
func (a *API) jobEvents(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	j, err := a.cfg.Catalog.Job(ctx, id)
	if err != nil {
		return err
	}
	lj := a.run.running(id)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // proxies pass events on at once
	w.WriteHeader(http.StatusOK)
	s := &eventStream{w: w, rc: http.NewResponseController(w)}
	var last dma.Progress
	read := time.Now() // when j was read
	tick := time.NewTicker(a.progressEvery)
	defer tick.Stop()
	for j.Active() {
		var changed, done <-chan struct{}
		if lj != nil {
			last, changed = lj.snapshot()
			done = lj.done
		}
		if err := s.send("progress", eventOf(j, last)); err != nil {
			return nil // the client went away
		}
		select {
		case <-ctx.Done():
			return nil
		case <-a.ctx.Done():
			return nil // shutting down
		case <-changed:
			continue // the state is read on ticks and at the end
		case <-done:
			last, _ = lj.snapshot()
			lj = nil
		case <-tick.C:
			if lj != nil && time.Since(read) < stateEvery {
				continue // its end comes on done; no need to ask the catalog
			}
		}
		read = time.Now()
		if j, err = a.cfg.Catalog.Job(ctx, id); err != nil {
			a.cfg.Logger.Error("job events: read the job", "job", id, "err", err)
			return nil // the stream has started: no JSON error can follow
		}
	}
	s.send("end", a.endEvent(r, j, last))
	return nil
}

// endEvent is a job's final event. A backup's figures are its image's, as
// the catalog holds them; other jobs' the last progress seen, if any.
func (a *API) endEvent(r *http.Request, j catalog.Job, last dma.Progress) jobEvent {
	e := eventOf(j, last)
	e.Phase = "done"
	if j.Kind == "backup" && j.BackupID != 0 {
		if b, err := a.cfg.Catalog.Backup(r.Context(), j.BackupID); err == nil && (b.Bytes != 0 || b.Files != 0) {
			e.Bytes, e.Files = b.Bytes, b.Files
		}
	}
	return e
}

// eventStream writes server-sent events, each flushed to the client.
type eventStream struct {
	w  http.ResponseWriter
	rc *http.ResponseController
	n  int
}

func (s *eventStream) send(event string, v any) error {
	data, err := json.Marshal(v) // one line: JSON escapes newlines
	if err != nil {
		return err
	}
	s.n++
	if _, err := fmt.Fprintf(s.w, "event: %s\nid: %d\ndata: %s\n\n", event, s.n, data); err != nil {
		return err
	}
	return s.rc.Flush()
}
