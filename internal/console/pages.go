package console

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"math"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"ferry/internal/httpapi/token"
	"ferry/internal/view"
)

//go:embed templates static
var files embed.FS

// pages are the parsed templates, one set per page (each page defines
// "title" and "content" inside the shared layout).
type pages struct{ byName map[string]*template.Template }

var funcs = template.FuncMap{
	"bytes": humanBytes,
	"time": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.Local().Format("2006-01-02 15:04:05")
	},
	"timep": func(t *time.Time) string {
		if t == nil {
			return ""
		}
		return t.Local().Format("2006-01-02 15:04:05")
	},
	"join":   strings.Join,
	"prefix": func() string { return Prefix },
	"dirOf":  path.Dir,
	"base":   path.Base,
}

func loadPages() *pages {
	names, err := fs.Glob(files, "templates/*.html")
	if err != nil {
		panic(err)
	}
	p := &pages{byName: map[string]*template.Template{}}
	for _, n := range names {
		name := strings.TrimSuffix(path.Base(n), ".html")
		if name == "layout" {
			continue
		}
		p.byName[name] = template.Must(template.New(name).Funcs(funcs).ParseFS(files, "templates/layout.html", n))
	}
	return p
}

// page is what the layout gets: who is signed in, the section for the
// menu, whether the page refreshes itself without JavaScript, and the
// page's own data.
type page struct {
	Who     token.Token
	Nav     string
	Refresh bool
	Data    any
}

// render writes page name with data, rendered whole before anything is
// sent so that a template error is a clean 500.
func (c *Console) render(w http.ResponseWriter, r *http.Request, status int, name string, data any) {
	nav, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, Prefix), "/")
	p := page{Who: tokenOf(r), Nav: nav, Data: data}
	if rf, ok := data.(interface{ refresh() bool }); ok {
		p.Refresh = rf.refresh()
	}
	var b bytes.Buffer
	if err := c.pages.byName[name].ExecuteTemplate(&b, "layout", p); err != nil {
		c.cfg.Logger.Error("console page", "page", name, "err", err)
		http.Error(w, "internal error; see the server's log", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(b.Bytes())
}

// humanBytes is a byte count (any integer type the views use) in IEC
// units, e.g. 1.5 MiB.
func humanBytes(v any) string {
	var n int64
	switch v := v.(type) {
	case int64:
		n = v
	case uint64:
		n = int64(min(v, math.MaxInt64))
	case uint32:
		n = int64(v)
	case int:
		n = int64(v)
	default:
		return fmt.Sprint(v)
	}
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

func (c *Console) routes() {
	handle := func(pattern string, h func(*Console, http.ResponseWriter, *http.Request) error) {
		c.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			if err := h(c, w, r); err != nil {
				c.fail(w, r, err)
			}
		})
	}
	handle("GET "+Prefix+"signin", func(c *Console, w http.ResponseWriter, r *http.Request) error {
		c.signInPage(w, r, http.StatusOK, "")
		return nil
	})
	handle("POST "+Prefix+"signin", (*Console).signIn)
	handle("POST "+Prefix+"signout", (*Console).signOut)
	handle("GET "+Prefix+"{$}", (*Console).dashboard)
	handle("GET "+Prefix+"jobs/{id}", (*Console).job)
	handle("GET "+Prefix+"jobs/{id}/events", func(c *Console, w http.ResponseWriter, r *http.Request) error {
		return c.cfg.Backend.JobEvents(w, r)
	})
	handle("POST "+Prefix+"jobs/{id}/cancel", (*Console).cancel)
	handle("GET "+Prefix+"backups", (*Console).backups)
	handle("POST "+Prefix+"backups", (*Console).startBackup)
	handle("GET "+Prefix+"backups/{id}", (*Console).backup)
	handle("POST "+Prefix+"backups/{id}/restore", (*Console).restore)
	handle("GET "+Prefix+"library", (*Console).library)
	handle("GET "+Prefix+"san", (*Console).san)
	handle("GET "+Prefix+"agents", (*Console).agents)
	handle("GET "+Prefix+"policies", (*Console).policies)
	handle("GET "+Prefix+"static/{name}", (*Console).static)
	c.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		c.fail(w, r, &Error{http.StatusNotFound, "no such page: " + r.URL.Path})
	})
}

type signInData struct {
	Next, Problem string
}

// signInPage shows the sign-in form; status 401 when it stands for a page
// that needs a session.
func (c *Console) signInPage(w http.ResponseWriter, r *http.Request, status int, problem string) {
	next := r.PostFormValue("next")
	if r.Method == http.MethodGet && r.URL.Path != Prefix+"signin" {
		next = r.URL.RequestURI()
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="ferry"`)
		if r.Header.Get("HX-Request") != "" {
			w.Header().Set("HX-Redirect", Prefix+"signin") // a fragment would not show the form
		}
	}
	c.render(w, r, status, "signin", signInData{Next: nextPage(next), Problem: problem})
}

func pathID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, &Error{http.StatusBadRequest, fmt.Sprintf("%q is not an id", r.PathValue("id"))}
	}
	return id, nil
}

// jobRow is a job with its progress when it runs here.
type jobRow struct {
	view.Job
	Progress Progress
	Live     bool // running in this process: its events carry progress
}

func (c *Console) rowOf(j view.Job) jobRow {
	p, live := c.cfg.Backend.Progress(j.ID)
	return jobRow{Job: j, Progress: p, Live: live}
}

func (j jobRow) Active() bool { return j.Ended == nil }

type dashboardData struct {
	Running, Results, Failures []jobRow
	Started                    int64
}

func (d dashboardData) refresh() bool { return len(d.Running) > 0 }

// lastResults is how many ended jobs, and failed ones, the dashboard lists.
const lastResults = 10

func (c *Console) dashboard(w http.ResponseWriter, r *http.Request) error {
	js, err := c.cfg.Backend.Jobs(r.Context(), false)
	if err != nil {
		return err
	}
	var d dashboardData
	d.Started, _ = strconv.ParseInt(r.URL.Query().Get("started"), 10, 64)
	for _, j := range slices.Backward(js) { // newest first
		switch {
		case j.Ended == nil:
			d.Running = append(d.Running, c.rowOf(j))
		case j.State == "failed" && len(d.Failures) < lastResults:
			d.Failures = append(d.Failures, jobRow{Job: j})
		}
		if j.Ended != nil && len(d.Results) < lastResults {
			d.Results = append(d.Results, jobRow{Job: j})
		}
	}
	c.render(w, r, http.StatusOK, "dashboard", d)
	return nil
}

type jobData struct {
	jobRow
	Log []view.LogLine
}

func (d jobData) refresh() bool { return d.Active() }

func (c *Console) job(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	jl, err := c.cfg.Backend.Job(r.Context(), id)
	if err != nil {
		return err
	}
	d := jobData{jobRow: c.rowOf(jl.Job), Log: jl.Log}
	if !d.Live && d.Kind == "backup" && d.BackupID != 0 {
		// An ended backup's figures are its image's, as the API's end
		// event gives them.
		if b, err := c.cfg.Backend.Backup(r.Context(), d.BackupID); err == nil {
			d.Progress.Bytes, d.Progress.Files = b.Bytes, b.Files
		}
	}
	c.render(w, r, http.StatusOK, "job", d)
	return nil
}

func (c *Console) cancel(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	if _, err := c.cfg.Backend.Cancel(r.Context(), id); err != nil {
		return err
	}
	http.Redirect(w, r, fmt.Sprintf("%sjobs/%d", Prefix, id), http.StatusSeeOther)
	return nil
}

// Page sizes of the backups list and of search results.
const (
	backupsPage = 50
	searchLimit = 200
)

type backupsData struct {
	Page    view.BackupPage
	Glob    string
	Found   []view.File
	Before  int64
	Limited bool // the search found as many as it lists: there may be more
}

func (c *Console) backups(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	d := backupsData{Glob: q.Get("glob")}
	if s := q.Get("before"); s != "" {
		var err error
		if d.Before, err = strconv.ParseInt(s, 10, 64); err != nil || d.Before <= 0 {
			return &Error{http.StatusBadRequest, fmt.Sprintf("before=%q is not a backup id", s)}
		}
	}
	var err error
	if d.Page, err = c.cfg.Backend.Backups(r.Context(), d.Before, backupsPage); err != nil {
		return err
	}
	if d.Glob != "" {
		if d.Found, err = c.cfg.Backend.Find(r.Context(), d.Glob, searchLimit); err != nil {
			return err
		}
		d.Limited = len(d.Found) == searchLimit
	}
	c.render(w, r, http.StatusOK, "backups", d)
	return nil
}

func (c *Console) startBackup(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	source := strings.TrimSpace(r.PostFormValue("source"))
	if source == "" {
		return &Error{http.StatusBadRequest, "give the directory to back up"}
	}
	j, err := c.cfg.Backend.StartBackup(source, strings.TrimSpace(r.PostFormValue("tape")))
	if err != nil {
		return err
	}
	http.Redirect(w, r, fmt.Sprintf("%s?started=%d", Prefix, j.ID), http.StatusSeeOther)
	return nil
}

type backupData struct {
	Backup view.Backup
	Dir    string
	Crumbs []crumb
	Files  []view.File
	Agents []view.Agent
}

// crumb is one directory on the way to the one shown.
type crumb struct{ Name, Dir string }

func crumbsOf(dir string) []crumb {
	out := []crumb{{"/", "/"}}
	p := ""
	for _, part := range strings.Split(strings.Trim(dir, "/"), "/") {
		if part == "" {
			continue
		}
		p += "/" + part
		out = append(out, crumb{part, p})
	}
	return out
}

func (c *Console) backup(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	d := backupData{Dir: path.Clean("/" + r.URL.Query().Get("dir"))}
	if d.Backup, err = c.cfg.Backend.Backup(r.Context(), id); err != nil {
		return err
	}
	if d.Files, err = c.cfg.Backend.List(r.Context(), id, d.Dir); err != nil {
		return err
	}
	if d.Agents, err = c.cfg.Backend.Agents(r.Context()); err != nil {
		return err
	}
	d.Crumbs = crumbsOf(d.Dir)
	c.render(w, r, http.StatusOK, "backup", d)
	return nil
}

// restore starts a restore of the chosen files of a backup to a directory
// on this node or on a registered agent.
func (c *Console) restore(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	if err := r.ParseForm(); err != nil {
		return &Error{http.StatusBadRequest, "the form: " + err.Error()}
	}
	paths := r.PostForm["path"]
	if len(paths) == 0 {
		return &Error{http.StatusBadRequest, "choose the files to restore"}
	}
	to := strings.TrimSpace(r.PostFormValue("to"))
	if to == "" {
		return &Error{http.StatusBadRequest, "give the directory to restore into"}
	}
	if agent := r.PostFormValue("agent"); agent != "" {
		to = (&url.URL{Scheme: "ndmp", Host: agent, Path: "/" + strings.TrimPrefix(to, "/")}).String()
	}
	j, err := c.cfg.Backend.StartRestore(RestoreRequest{Backup: id, To: to, Paths: paths,
		Overwrite: r.PostFormValue("overwrite") != ""})
	if err != nil {
		return err
	}
	http.Redirect(w, r, fmt.Sprintf("%sjobs/%d", Prefix, j.ID), http.StatusSeeOther)
	return nil
}

type libraryData struct {
	Library view.Library
	Media   []view.Medium
}

func (c *Console) library(w http.ResponseWriter, r *http.Request) error {
	var d libraryData
	var err error
	if d.Library, err = c.cfg.Backend.Library(); err != nil {
		return err
	}
	if d.Media, err = c.cfg.Backend.Media(r.Context()); err != nil {
		return err
	}
	c.render(w, r, http.StatusOK, "library", d)
	return nil
}

type sanData struct {
	Target view.Target
	Disks  []view.Disk
}

func (c *Console) san(w http.ResponseWriter, r *http.Request) error {
	var d sanData
	var err error
	if d.Target, err = c.cfg.Backend.Target(); err != nil {
		return err
	}
	if d.Disks, err = c.cfg.Backend.Disks(); err != nil {
		return err
	}
	c.render(w, r, http.StatusOK, "san", d)
	return nil
}

func (c *Console) agents(w http.ResponseWriter, r *http.Request) error {
	as, err := c.cfg.Backend.Agents(r.Context())
	if err != nil {
		return err
	}
	c.render(w, r, http.StatusOK, "agents", as)
	return nil
}

func (c *Console) policies(w http.ResponseWriter, r *http.Request) error {
	ps, err := c.cfg.Backend.Policies(r.Context())
	if err != nil {
		return err
	}
	c.render(w, r, http.StatusOK, "policies", ps)
	return nil
}

// static serves the embedded scripts (htmx and the console's own).
func (c *Console) static(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	if !strings.HasSuffix(name, ".js") || strings.Contains(name, "/") {
		return &Error{http.StatusNotFound, "no such file"}
	}
	b, err := files.ReadFile("static/" + name)
	if err != nil {
		return &Error{http.StatusNotFound, "no such file"}
	}
	w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	w.Write(b)
	return nil
}
