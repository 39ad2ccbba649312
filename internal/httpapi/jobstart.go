package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"ferry/internal/catalog"
	"ferry/internal/dma"
	"ferry/internal/view"
)

// maxBody bounds a request body: job requests are a few hundred bytes.
const maxBody = 1 << 20

// Request bodies of the routes that start jobs (docs/http-api.md).
type (
	backupBody struct {
		Source      string   `json:"source"` // a directory on this node, or ndmp://AGENT/PATH
		Tape        string   `json:"tape,omitempty"`
		Level       int      `json:"level,omitempty"`
		Incremental bool     `json:"incremental,omitempty"`
		Exclude     []string `json:"exclude,omitempty"`
	}
	restoreBody struct {
		Backup    int64    `json:"backup"`
		To        string   `json:"to"` // a directory on this node, or ndmp://AGENT/PATH
		Paths     []string `json:"paths,omitempty"`
		Overwrite bool     `json:"overwrite,omitempty"`
		Tape      string   `json:"tape,omitempty"`
	}
	verifyBody struct {
		Backup int64  `json:"backup"`
		Tape   string `json:"tape,omitempty"`
	}
	copyBody struct {
		Source      string   `json:"source"`
		Destination string   `json:"destination"`
		Level       int      `json:"level,omitempty"`
		Incremental bool     `json:"incremental,omitempty"`
		Exclude     []string `json:"exclude,omitempty"`
		Overwrite   bool     `json:"overwrite,omitempty"`
	}
)

// maxLevel is the deepest backup level a request may ask for.
const maxLevel = 99

// parseBody decodes one JSON object into v, refusing unknown fields and
// anything after the object, then checks it.
func parseBody(data []byte, v interface{ check() error }) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return badRequest("request body: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return badRequest("request body: one JSON object, nothing after it")
	}
	return v.check()
}

func checkLevel(level int, incremental bool) error {
	if level < 0 || level > maxLevel {
		return badRequest("level %d: give 0 (full) to %d", level, maxLevel)
	}
	if level != 0 && incremental {
		return badRequest("give level or incremental, not both")
	}
	return nil
}

func checkNames(what string, names []string) error {
	for _, n := range names {
		if n == "" || strings.ContainsRune(n, 0) {
			return badRequest("%s: an empty name or one with a NUL byte", what)
		}
	}
	return nil
}

func required(what, v string) error {
	if v == "" {
		return badRequest("%s is required", what)
	}
	if strings.ContainsRune(v, 0) {
		return badRequest("%s holds a NUL byte", what)
	}
	return nil
}

func (b *backupBody) check() error {
	return errors.Join(required("source", b.Source), checkLevel(b.Level, b.Incremental), checkNames("exclude", b.Exclude))
}

func (b *restoreBody) check() error {
	if b.Backup <= 0 {
		return badRequest("backup: give a backup id")
	}
	return errors.Join(required("to", b.To), checkNames("paths", b.Paths))
}

func (b *verifyBody) check() error {
	if b.Backup <= 0 {
		return badRequest("backup: give a backup id")
	}
	return nil
}

func (b *copyBody) check() error {
	return errors.Join(required("source", b.Source), required("destination", b.Destination),
		checkLevel(b.Level, b.Incremental), checkNames("exclude", b.Exclude))
}

// readBody reads and checks r's body into v.
func readBody(w http.ResponseWriter, r *http.Request, v interface{ check() error }) error {
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		return badRequest("request body: %v", err)
	}
	return parseBody(data, v)
}

// confined returns p, a source or destination, with its local path
// checked against the exports and resolved; other agents' as they are
// (those agents keep to their own exports). A local path is a path on
// this node or ndmp://local/PATH, ferry's in-process agent.
func (a *API) confined(p string) (string, error) {
	if !strings.HasPrefix(p, "ndmp://") {
		return a.confine.check(p)
	}
	t, err := dma.ParseTarget(p)
	if err != nil {
		return "", badRequest("%v", err)
	}
	if t.Agent != dma.LocalAgentName {
		return p, nil
	}
	r, err := a.confine.check(t.Path)
	if err != nil {
		return "", err
	}
	return (&url.URL{Scheme: "ndmp", Host: dma.LocalAgentName, Path: r}).String(), nil
}

func (a *API) changerOptions() dma.ChangerOptions {
	// A job finding its drive held by another job waits for it: jobs on
	// one drive run one after the other.
	return dma.ChangerOptions{WaitDrive: a.waitDrive}
}

func (a *API) startBackup(w http.ResponseWriter, r *http.Request) error {
	var b backupBody
	if err := readBody(w, r, &b); err != nil {
		return err
	}
	return a.answerStarted(w)(a.backupJob(b))
}

// backupJob starts the backup b asks for and returns its job.
func (a *API) backupJob(b backupBody) (catalog.Job, error) {
	src, err := a.confined(b.Source)
	if err != nil {
		return catalog.Job{}, err
	}
	req := dma.BackupRequest{Source: src, Tape: b.Tape, Level: b.Level, Incremental: b.Incremental,
		Exclude: b.Exclude, Changer: a.changerOptions(), ProgressEvery: a.progressEvery}
	return a.launch(func(ctx context.Context, p chan<- dma.Progress) error {
		req.Progress = p
		_, err := a.cfg.Manager.Backup(ctx, req)
		return err
	})
}

func (a *API) startRestore(w http.ResponseWriter, r *http.Request) error {
	var b restoreBody
	if err := readBody(w, r, &b); err != nil {
		return err
	}
	return a.answerStarted(w)(a.restoreJob(b))
}

// restoreJob starts the restore b asks for and returns its job.
func (a *API) restoreJob(b restoreBody) (catalog.Job, error) {
	to, err := a.confined(b.To)
	if err != nil {
		return catalog.Job{}, err
	}
	req := dma.RestoreRequest{BackupID: b.Backup, To: to, Paths: b.Paths, Overwrite: b.Overwrite, Tape: b.Tape,
		Changer: a.changerOptions()}
	return a.launch(func(ctx context.Context, p chan<- dma.Progress) error {
		req.Progress = p
		_, err := a.cfg.Manager.Restore(ctx, req)
		return err
	})
}

func (a *API) startVerify(w http.ResponseWriter, r *http.Request) error {
	var b verifyBody
	if err := readBody(w, r, &b); err != nil {
		return err
	}
	req := dma.VerifyRequest{BackupID: b.Backup, Tape: b.Tape, Changer: a.changerOptions()}
	return a.answerStarted(w)(a.launch(func(ctx context.Context, _ chan<- dma.Progress) error {
		_, err := a.cfg.Manager.Verify(ctx, req)
		return err
	}))
}

func (a *API) startCopy(w http.ResponseWriter, r *http.Request) error {
	var b copyBody
	if err := readBody(w, r, &b); err != nil {
		return err
	}
	src, err := a.confined(b.Source)
	if err != nil {
		return err
	}
	dst, err := a.confined(b.Destination)
	if err != nil {
		return err
	}
	req := dma.CopyRequest{Src: src, Dst: dst, Level: b.Level, Incremental: b.Incremental, Exclude: b.Exclude,
		Overwrite: b.Overwrite}
	return a.answerStarted(w)(a.launch(func(ctx context.Context, p chan<- dma.Progress) error {
		req.Progress = p
		_, err := a.cfg.Manager.Copy(ctx, req)
		return err
	}))
}

var errNoJobs = &apiError{http.StatusServiceUnavailable, "jobs_unavailable", "this node's API does not run jobs"}

// launch runs fn in the background and returns its job once the catalog
// holds it. A request failing before that (a backup id or an agent that
// does not exist, a source that is not a directory) is a 400
// job_not_started with the reason.
func (a *API) launch(fn func(context.Context, chan<- dma.Progress) error) (catalog.Job, error) {
	if a.run == nil {
		return catalog.Job{}, errNoJobs
	}
	j, err := a.run.start(fn)
	if err != nil {
		var ae *apiError
		if errors.As(err, &ae) {
			return catalog.Job{}, err
		}
		return catalog.Job{}, &apiError{http.StatusBadRequest, "job_not_started", err.Error()}
	}
	return j, nil
}

// answerStarted answers 202 with a job launch started, or its error.
func (a *API) answerStarted(w http.ResponseWriter) func(catalog.Job, error) error {
	return func(j catalog.Job, err error) error {
		if err != nil {
			return err
		}
		w.Header().Set("Location", fmt.Sprintf("/api/v1/jobs/%d", j.ID))
		return writeJSON(w, http.StatusAccepted, view.JobOf(j))
	}
}

// maxCancelWait bounds ?wait= of a cancel.
const maxCancelWait = time.Minute

// cancelJob asks the process running a job to cancel it, as ferry cancel
// does (through the catalog, so it reaches a job of any process), and
// waits up to ?wait= for it to end.
func (a *API) cancelJob(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	wait := time.Duration(0)
	if s := r.URL.Query().Get("wait"); s != "" {
		if wait, err = time.ParseDuration(s); err != nil || wait < 0 || wait > maxCancelWait {
			return badRequest("wait %q: give a duration from 0s to %v", s, maxCancelWait)
		}
	}
	j, err := a.cancelWait(r.Context(), id, wait)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if j.Active() {
		status = http.StatusAccepted
	}
	return writeJSON(w, status, view.JobOf(j))
}

// cancelWait cancels job id and waits up to wait for it to end; the job is
// returned as it stands then.
func (a *API) cancelWait(ctx context.Context, id int64, wait time.Duration) (catalog.Job, error) {
	if a.cfg.Manager == nil {
		return catalog.Job{}, errNoJobs
	}
	j, err := a.cfg.Catalog.Job(ctx, id)
	if err != nil {
		return catalog.Job{}, err
	}
	if !j.Active() {
		return catalog.Job{}, &apiError{http.StatusConflict, "job_ended", fmt.Sprintf("job %d has already ended: %s", id, j.State)}
	}
	j, err = a.cfg.Manager.Cancel(ctx, id, wait, false)
	if err != nil {
		// The job ended on its own before the cancel took, or has not
		// ended within the wait: the answer is the job as it stands.
		if j, err = a.cfg.Catalog.Job(ctx, id); err != nil {
			return catalog.Job{}, err
		}
		if j.State == catalog.JobRunning {
			return catalog.Job{}, fmt.Errorf("cancel job %d: still running after the request", id)
		}
	}
	return j, nil
}
