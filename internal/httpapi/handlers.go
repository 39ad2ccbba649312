package httpapi

import (
	"context"
	"net/http"
	"path"
	"strconv"

	"ferry/internal/catalog"
	"ferry/internal/disk"
	"ferry/internal/node"
	"ferry/internal/view"
)

func (a *API) healthz(w http.ResponseWriter, _ *http.Request) error {
	return writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (a *API) serveMetrics(w http.ResponseWriter, r *http.Request) error {
	a.metrics.ServeHTTP(w, r)
	return nil
}

func (a *API) openAPI(w http.ResponseWriter, _ *http.Request) error {
	w.Header().Set("Content-Type", "application/json")
	_, err := w.Write(openAPI)
	return err
}

func (a *API) agents(w http.ResponseWriter, r *http.Request) error {
	out, err := a.agentViews(r.Context())
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, out)
}

func (a *API) agentViews(ctx context.Context) ([]view.Agent, error) {
	as, err := a.cfg.Catalog.Agents(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]view.Agent, 0, len(as))
	for _, ag := range as {
		out = append(out, view.AgentOf(ag))
	}
	return out, nil
}

func (a *API) agent(w http.ResponseWriter, r *http.Request) error {
	ag, err := a.cfg.Catalog.Agent(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, view.AgentOf(ag))
}

// library is the view of the node's library (it has one).
func (a *API) library() (view.Library, error) {
	elems, err := a.cfg.Library.Elements()
	if err != nil {
		return view.Library{}, err
	}
	return view.LibraryOf(a.cfg.Library.ChangerName(), elems), nil
}

func (a *API) libraries(w http.ResponseWriter, _ *http.Request) error {
	l, err := a.library()
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, []view.Library{l})
}

func (a *API) libraryByName(w http.ResponseWriter, r *http.Request) error {
	if name := r.PathValue("name"); name != a.cfg.Library.ChangerName() {
		return notFound("no library %q (this node's is %s)", name, a.cfg.Library.ChangerName())
	}
	l, err := a.library()
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, l)
}

// mediumOf is the view of m with the backups that have a piece on it.
func (a *API) mediumOf(ctx context.Context, m catalog.Medium) (view.Medium, error) {
	locs, err := a.cfg.Catalog.OnMedium(ctx, m.Barcode)
	if err != nil {
		return view.Medium{}, err
	}
	return view.MediumOf(m, locs), nil
}

func (a *API) media(w http.ResponseWriter, r *http.Request) error {
	out, err := a.mediaViews(r.Context())
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, out)
}

func (a *API) mediaViews(ctx context.Context) ([]view.Medium, error) {
	ms, err := a.cfg.Catalog.Media(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]view.Medium, 0, len(ms))
	for _, m := range ms {
		v, err := a.mediumOf(ctx, m)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

func (a *API) medium(w http.ResponseWriter, r *http.Request) error {
	m, err := a.cfg.Catalog.Medium(r.Context(), r.PathValue("barcode"))
	if err != nil {
		return err
	}
	v, err := a.mediumOf(r.Context(), m)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, v)
}

// diskViews reads the disks directory afresh: a disk made by the CLI a
// moment ago is listed. A description that does not parse fails the
// request rather than leave that disk out unsaid.
func (a *API) diskViews() ([]view.Disk, error) {
	dir := a.cfg.Layout.Disks()
	ms, err := disk.List(dir)
	if err != nil {
		return nil, err
	}
	out := make([]view.Disk, 0, len(ms))
	for _, m := range ms {
		out = append(out, view.Disk{Name: m.Name, Index: m.Index, Size: m.Size, BlockSize: m.BlockSize, Thin: m.Thin,
			NAA: m.NAA, Image: m.ImagePath(dir), Created: m.Created})
	}
	return out, nil
}

func (a *API) disks(w http.ResponseWriter, _ *http.Request) error {
	ds, err := a.diskViews()
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, ds)
}

func (a *API) disk(w http.ResponseWriter, r *http.Request) error {
	ds, err := a.diskViews()
	if err != nil {
		return err
	}
	name := r.PathValue("name")
	for _, d := range ds {
		if d.Name == name {
			return writeJSON(w, http.StatusOK, d)
		}
	}
	return notFound("no disk %q", name)
}

// target shows the target's IQN and ACL as the state file holds them now
// (the CLI changes it while serve runs), never a CHAP secret.
func (a *API) target(w http.ResponseWriter, _ *http.Request) error {
	v, err := a.targetView()
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, v)
}

func (a *API) targetView() (view.Target, error) {
	st, err := node.LoadTargetState(a.cfg.Layout)
	if err != nil {
		return view.Target{}, err
	}
	v := view.Target{Name: st.Name, ACL: []view.TargetAllow{}}
	if t := a.cfg.Target; t != nil {
		v.Serving, v.Address = true, t.Addr().String()
	}
	for _, e := range st.ACL {
		v.ACL = append(v.ACL, view.TargetAllow{Initiator: e.Initiator, CHAP: e.CHAPSecret != "",
			Disks: orEmpty(e.Disks), Libraries: orEmpty(e.Libraries)})
	}
	return v, nil
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// Page sizes of the backups list and of file lists.
const (
	defaultLimit = 100
	maxLimit     = 1000
)

// intParam reads an integer query parameter, def when absent.
func intParam(r *http.Request, name string, def, lo, hi int64) (int64, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < lo || n > hi {
		return 0, badRequest("%s=%q: want a whole number from %d to %d", name, s, lo, hi)
	}
	return n, nil
}

// backups lists backups newest first, a page at a time: ?limit= (100 by
// default), ?before=ID (the previous page's next_before), and filters
// ?agent=, ?path=, ?status=.
func (a *API) backups(w http.ResponseWriter, r *http.Request) error {
	limit, err := intParam(r, "limit", defaultLimit, 1, maxLimit)
	if err != nil {
		return err
	}
	before, err := intParam(r, "before", 0, 1, 1<<62)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	page, err := a.backupPage(r.Context(), catalog.BackupFilter{Agent: q.Get("agent"), Path: q.Get("path"), Status: q.Get("status")},
		before, limit)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, page)
}

// backupPage is up to limit backups matching f, newest first, older than
// before (0: from the newest).
func (a *API) backupPage(ctx context.Context, f catalog.BackupFilter, before, limit int64) (view.BackupPage, error) {
	// One more than the page tells whether another page follows.
	f.Newest, f.Before, f.Limit = true, before, int(limit)+1
	bs, err := a.cfg.Catalog.Backups(ctx, f)
	if err != nil {
		return view.BackupPage{}, err
	}
	page := view.BackupPage{Backups: []view.Backup{}}
	for _, b := range bs {
		if int64(len(page.Backups)) == limit {
			page.NextBefore = page.Backups[len(page.Backups)-1].ID
			break
		}
		page.Backups = append(page.Backups, view.BackupOf(b))
	}
	return page, nil
}

func pathID(r *http.Request) (int64, error) {
	s := r.PathValue("id")
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, badRequest("%q is not an id", s)
	}
	return id, nil
}

func (a *API) backup(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	b, err := a.cfg.Catalog.Backup(r.Context(), id)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, view.BackupOf(b))
}

// backupFiles browses one directory of a backup (?dir=, "/" by default:
// the backed-up directory) or, with ?glob=, finds the backup's files
// whose path matches (through the catalog's name indexes).
func (a *API) backupFiles(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	if _, err := a.cfg.Catalog.Backup(r.Context(), id); err != nil {
		return err
	}
	q := r.URL.Query()
	if q.Has("glob") {
		if q.Has("dir") {
			return badRequest("give dir (browse) or glob (search), not both")
		}
		return a.find(w, r, id)
	}
	out, err := a.listDir(r.Context(), id, q.Get("dir"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, out)
}

// listDir lists directory dir of backup id ("" or "/": the backed-up
// directory).
func (a *API) listDir(ctx context.Context, id int64, dir string) ([]view.File, error) {
	fs, err := a.cfg.Catalog.List(ctx, id, path.Clean("/"+dir))
	if err != nil {
		return nil, err
	}
	out := make([]view.File, 0, len(fs))
	for _, f := range fs {
		out = append(out, view.FileOf(id, f))
	}
	return out, nil
}

// searchFiles finds files across all backups (?glob=, ?limit=).
func (a *API) searchFiles(w http.ResponseWriter, r *http.Request) error {
	if !r.URL.Query().Has("glob") {
		return badRequest("glob is required: a shell pattern over full paths, e.g. */report-*.pdf")
	}
	return a.find(w, r, 0)
}

func (a *API) find(w http.ResponseWriter, r *http.Request, backupID int64) error {
	limit, err := intParam(r, "limit", defaultLimit, 1, maxLimit)
	if err != nil {
		return err
	}
	out, err := a.findFiles(r.Context(), r.URL.Query().Get("glob"), backupID, int(limit))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, out)
}

// findFiles finds up to limit files whose path matches glob, in backup
// backupID or (0) in every backup.
func (a *API) findFiles(ctx context.Context, glob string, backupID int64, limit int) ([]view.File, error) {
	if glob == "" {
		return nil, badRequest("glob is empty")
	}
	ms, err := a.cfg.Catalog.Find(ctx, catalog.Query{Glob: glob, BackupID: backupID, Limit: limit})
	if err != nil {
		return nil, err
	}
	out := make([]view.File, 0, len(ms))
	for _, m := range ms {
		out = append(out, view.FileOf(m.BackupID, m.File))
	}
	return out, nil
}

// jobs lists jobs, oldest first; ?active=true only those not ended.
func (a *API) jobs(w http.ResponseWriter, r *http.Request) error {
	active := false
	if s := r.URL.Query().Get("active"); s != "" {
		var err error
		if active, err = strconv.ParseBool(s); err != nil {
			return badRequest("active=%q: want true or false", s)
		}
	}
	out, err := a.jobViews(r.Context(), active)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, out)
}

func (a *API) jobViews(ctx context.Context, active bool) ([]view.Job, error) {
	js, err := a.cfg.Catalog.Jobs(ctx, active)
	if err != nil {
		return nil, err
	}
	out := make([]view.Job, 0, len(js))
	for _, j := range js {
		out = append(out, view.JobOf(j))
	}
	return out, nil
}

func (a *API) job(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	v, err := a.jobLog(r.Context(), id)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, v)
}

// jobLog is job id with its log.
func (a *API) jobLog(ctx context.Context, id int64) (view.JobLog, error) {
	j, err := a.cfg.Catalog.Job(ctx, id)
	if err != nil {
		return view.JobLog{}, err
	}
	lines, err := a.cfg.Catalog.JobLog(ctx, id)
	if err != nil {
		return view.JobLog{}, err
	}
	v := view.JobLog{Job: view.JobOf(j), Log: []view.LogLine{}}
	for _, l := range lines {
		v.Log = append(v.Log, view.LogLine{At: l.At, Level: l.Level, Message: l.Message})
	}
	return v, nil
}
