package httpapi

import (
	"context"
	"errors"
	"net/http"

	"ferry/internal/catalog"
	"ferry/internal/console"
	"ferry/internal/view"
)

// consoleBackend gives the web console the API's own functions: a page
// shows what the JSON route for the same thing answers, and a job started
// from the console passes the same checks (exports, bounds, read-only).
type consoleBackend struct{ a *API }

var _ console.Backend = consoleBackend{}

// consoleErr turns the API's errors into the console's: the same status
// and message.
func consoleErr(err error) error {
	var ae *apiError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ae):
		return &console.Error{Status: ae.status, Message: ae.message}
	case errors.Is(err, catalog.ErrNotFound):
		return &console.Error{Status: http.StatusNotFound, Message: "not found"}
	case errors.Is(err, catalog.ErrBadQuery):
		return &console.Error{Status: http.StatusBadRequest, Message: err.Error()}
	}
	return err
}

func wrap[T any](v T, err error) (T, error) { return v, consoleErr(err) }

func (b consoleBackend) Jobs(ctx context.Context, active bool) ([]view.Job, error) {
	return wrap(b.a.jobViews(ctx, active))
}

func (b consoleBackend) Job(ctx context.Context, id int64) (view.JobLog, error) {
	return wrap(b.a.jobLog(ctx, id))
}

func (b consoleBackend) Progress(id int64) (console.Progress, bool) {
	lj := b.a.run.running(id)
	if lj == nil {
		return console.Progress{}, false
	}
	p, _ := lj.snapshot()
	return console.Progress{Phase: p.Phase, Bytes: p.Bytes, Files: p.Files, Total: p.Total}, true
}

func (b consoleBackend) JobEvents(w http.ResponseWriter, r *http.Request) error {
	return consoleErr(b.a.jobEvents(w, r))
}

func (b consoleBackend) Backups(ctx context.Context, before, limit int64) (view.BackupPage, error) {
	return wrap(b.a.backupPage(ctx, catalog.BackupFilter{}, before, limit))
}

func (b consoleBackend) Backup(ctx context.Context, id int64) (view.Backup, error) {
	bk, err := b.a.cfg.Catalog.Backup(ctx, id)
	return view.BackupOf(bk), consoleErr(err)
}

func (b consoleBackend) List(ctx context.Context, backup int64, dir string) ([]view.File, error) {
	return wrap(b.a.listDir(ctx, backup, dir))
}

func (b consoleBackend) Find(ctx context.Context, glob string, limit int) ([]view.File, error) {
	return wrap(b.a.findFiles(ctx, glob, 0, limit))
}

func (b consoleBackend) Library() (view.Library, error) { return wrap(b.a.library()) }

func (b consoleBackend) Media(ctx context.Context) ([]view.Medium, error) {
	return wrap(b.a.mediaViews(ctx))
}

func (b consoleBackend) Disks() ([]view.Disk, error) { return wrap(b.a.diskViews()) }

func (b consoleBackend) Target() (view.Target, error) { return wrap(b.a.targetView()) }

func (b consoleBackend) Agents(ctx context.Context) ([]view.Agent, error) {
	return wrap(b.a.agentViews(ctx))
}

func (b consoleBackend) StartBackup(source, tape string) (view.Job, error) {
	bb := backupBody{Source: source, Tape: tape}
	if err := bb.check(); err != nil {
		return view.Job{}, consoleErr(err)
	}
	j, err := b.a.backupJob(bb)
	return view.JobOf(j), consoleErr(err)
}

func (b consoleBackend) StartRestore(r console.RestoreRequest) (view.Job, error) {
	rb := restoreBody{Backup: r.Backup, To: r.To, Paths: r.Paths, Overwrite: r.Overwrite}
	if err := rb.check(); err != nil {
		return view.Job{}, consoleErr(err)
	}
	j, err := b.a.restoreJob(rb)
	return view.JobOf(j), consoleErr(err)
}

func (b consoleBackend) Cancel(ctx context.Context, id int64) (view.Job, error) {
	j, err := b.a.cancelWait(ctx, id, 0)
	return view.JobOf(j), consoleErr(err)
}

func (b consoleBackend) Policies(ctx context.Context) ([]view.Policy, error) {
	return wrap(b.a.policyViews(ctx))
}
