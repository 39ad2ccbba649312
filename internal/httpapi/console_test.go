package httpapi

import (
	"bytes"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"ferry/internal/catalog"
	"ferry/internal/httpapi/token"
)

// browser is a console client: it keeps the session cookie by hand (no
// jar, so a test sees exactly what the server set) and never follows
// redirects.
type browser struct {
	t      testing.TB
	base   string
	cookie *http.Cookie
}

var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// send sends one request with the browser's cookie and extra headers
// ("Name: value"), and returns the response with its body read.
func (b *browser) send(method, path string, form url.Values, headers ...string) (*http.Response, string) {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.base+path, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ": ")
		req.Header.Set(k, v)
	}
	if b.cookie != nil {
		req.AddCookie(b.cookie)
	}
	resp, err := noRedirect.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	return resp, string(out)
}

// signIn posts tok to the sign-in page and keeps the session cookie.
func (b *browser) signIn(tok string) *http.Cookie {
	b.t.Helper()
	resp, body := b.send("POST", "/console/signin", url.Values{"token": {tok}, "next": {"/console/backups"}},
		"Sec-Fetch-Site: same-origin")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console/backups" {
		b.t.Fatalf("sign-in: %d %s %s", resp.StatusCode, resp.Header.Get("Location"), body)
	}
	for _, c := range resp.Cookies() {
		if c.Name == "ferry_session" {
			b.cookie = c
			return c
		}
	}
	b.t.Fatalf("sign-in set no session cookie: %v", resp.Header["Set-Cookie"])
	return nil
}

// page gets a console page that must answer 200.
func (b *browser) page(path string) string {
	b.t.Helper()
	resp, body := b.send("GET", path, nil)
	if resp.StatusCode != http.StatusOK {
		b.t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		b.t.Fatalf("GET %s: Content-Type %q", path, ct)
	}
	return body
}

// TestConsoleSignIn: without a session every console page and asset
// answers 401 with the sign-in form and none of the node's data; a wrong
// token is refused; the right one sets an HttpOnly, SameSite=Strict
// cookie that is not the token, with which every page shows the node's
// data and no secret; signing out ends the session.
func TestConsoleSignIn(t *testing.T) {
	tn := startNode(t)
	if err := tn.cat.AddPolicy(t.Context(), catalog.Policy{Name: "nightly", Source: "/src", Full: "0 2 * * *", Keep: "30d",
		Created: tn.ended}); err != nil {
		t.Fatal(err)
	}
	anon := &browser{t: t, base: tn.base}
	for _, p := range []string{"/", "/console/", "/console/backups", "/console/backups/1?dir=/docs", "/console/library",
		"/console/san", "/console/agents", "/console/policies", "/console/jobs/1", "/console/jobs/1/events", "/console/static/console.js",
		"/console/static/htmx-2.0.7.min.js"} {
		resp, body := anon.send("GET", p, nil)
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, `name="token"`) ||
			strings.Contains(body, "report-2026") || strings.Contains(body, "FRY001L8") || strings.Contains(body, "<script") || strings.Contains(body, "function") {
			t.Errorf("GET %s without a session: %d\n%s", p, resp.StatusCode, body)
		}
	}
	if resp, body := anon.send("POST", "/console/backups", url.Values{"source": {"/x"}}); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("POST without a session: %d %s", resp.StatusCode, body)
	}
	if resp, _ := anon.send("GET", "/console/signin", nil); resp.StatusCode != http.StatusOK {
		t.Errorf("sign-in page: %d", resp.StatusCode)
	}
	resp, body := anon.send("POST", "/console/signin", url.Values{"token": {tn.rw + "x"}})
	if resp.StatusCode != http.StatusUnauthorized || len(resp.Cookies()) != 0 || !strings.Contains(body, "not valid") {
		t.Errorf("a wrong token: %d %v %s", resp.StatusCode, resp.Cookies(), body)
	}
	if resp, _ := anon.send("POST", "/console/signin", url.Values{"token": {tn.rw}, "next": {"//evil.example/"}}); resp.Header.Get("Location") != "/console/" {
		t.Errorf("sign-in sent the browser to %q", resp.Header.Get("Location"))
	}

	b := &browser{t: t, base: tn.base}
	c := b.signIn(tn.rw)
	if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Secure || c.Path != "/" ||
		strings.Contains(c.Value, tn.rw) || strings.Contains(tn.rw, c.Value) || len(c.Value) < 40 {
		t.Errorf("session cookie %+v", c)
	}
	pages := map[string][]string{
		"/console/":                          {"Running jobs", "restore", "running"}, // the seeded running job
		"/console/backups":                   {`data-backup="1"`, "/src"},
		"/console/backups?glob=*/report-*":   {"/docs/report-2026.pdf"},
		"/console/backups/1":                 {`value="/docs"`, `value="/top.txt"`, "FRY001L8", `href="?dir=%2fdocs"`},
		"/console/backups/1?dir=/docs":       {`value="/docs/report-2026.pdf"`, `value="/docs/notes.txt"`, `<option value="filer">`},
		"/console/library":                   {"FRY001L8", `id="drives"`},
		"/console/san":                       {"iqn.2026-01.test:client", "d0", "required"},
		"/console/agents":                    {"filer", "ndmp://ndmp@127.0.0.1:10000"},
		"/console/jobs/1":                    {"/src/locked: permission denied", "succeeded"},
		"/console/policies":                  {`data-policy="nightly"`, "0 2 * * *", "30d"},
		"/console/jobs/2":                    {"Cancel this job"},
		"/console/static/console.js":         nil,
		"/console/static/htmx-2.0.7.min.js":  nil,
		"/console/backups/1?dir=/docs/../..": {`value="/docs"`},
	}
	for p, want := range pages {
		var body string
		if strings.HasSuffix(p, ".js") {
			resp, out := b.send("GET", p, nil)
			if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/javascript") {
				t.Errorf("GET %s: %d %s", p, resp.StatusCode, resp.Header.Get("Content-Type"))
			}
			body = out
		} else {
			body = b.page(p)
		}
		for _, w := range want {
			if !strings.Contains(body, w) {
				t.Errorf("GET %s: no %q in\n%s", p, w, body)
			}
		}
		for _, secret := range []string{tn.rw, tn.ro, ndmpPassword, chapSecret, c.Value} {
			if strings.Contains(body, secret) {
				t.Errorf("GET %s carries a secret", p)
			}
		}
	}
	if resp, body := b.send("GET", "/console/backups/99", nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("a backup that does not exist: %d %s", resp.StatusCode, body)
	}
	if strings.Contains(tn.log.String(), c.Value) || strings.Contains(tn.log.String(), tn.rw) {
		t.Error("the server's log carries the session id or the token")
	}

	resp, _ = b.send("POST", "/console/signout", url.Values{}, "Sec-Fetch-Site: same-origin")
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-out: %d", resp.StatusCode)
	}
	if resp, _ := b.send("GET", "/console/", nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("the session still answers after sign-out: %d", resp.StatusCode)
	}
}

// TestConsoleRevokeEndsSessions: a token revoked with the CLI's function
// ends the sessions it opened at their next request, and a new token of
// the same name does not bring them back.
func TestConsoleRevokeEndsSessions(t *testing.T) {
	tn := startNode(t)
	b := &browser{t: t, base: tn.base}
	b.signIn(tn.rw)
	b.page("/console/")
	if err := token.Revoke(tn.layout.Tokens(), "admin"); err != nil {
		t.Fatal(err)
	}
	if resp, body := b.send("GET", "/console/", nil); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a revoked token's session: %d %s", resp.StatusCode, body)
	}
	if _, _, err := token.Create(tn.layout.Tokens(), "admin", false, tn.ended); err != nil {
		t.Fatal(err)
	}
	if resp, _ := b.send("GET", "/console/", nil); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a session of a revoked token came back with a new token of its name: %d", resp.StatusCode)
	}
}

// TestConsoleCrossOriginRefused: a state-changing request from another
// site carrying a valid session cookie (as a browser would send it) is
// refused 403 and starts nothing; sign-in from another site too; the
// same request from the console's own pages goes through.
func TestConsoleCrossOriginRefused(t *testing.T) {
	jn := startJobNode(t, jobNodeOptions{})
	src := filepath.Join(jn.export, "src")
	if err := os.Mkdir(src, 0o755); err != nil {
		t.Fatal(err)
	}
	b := &browser{t: t, base: jn.base}
	b.signIn(jn.rw)
	form := url.Values{"source": {src}}
	for _, h := range []string{"Sec-Fetch-Site: cross-site", "Sec-Fetch-Site: same-site", "Origin: http://evil.example"} {
		resp, body := b.send("POST", "/console/backups", form, h)
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "cross-origin") {
			t.Errorf("POST with %s: %d %s", h, resp.StatusCode, body)
		}
	}
	if resp, _ := b.send("POST", "/console/signin", url.Values{"token": {jn.rw}}, "Sec-Fetch-Site: cross-site"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-origin sign-in: %d", resp.StatusCode)
	}
	if js, err := jn.cat.Jobs(t.Context(), false); err != nil || len(js) != 0 {
		t.Fatalf("refused requests started jobs: %v %v", js, err)
	}
	resp, body := b.send("POST", "/console/backups", form, "Sec-Fetch-Site: same-origin", "Origin: "+jn.base)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("same-origin POST: %d %s", resp.StatusCode, body)
	}
}

// TestConsoleReadOnly: a read-only token's session shows every page but
// cannot start or cancel a job.
func TestConsoleReadOnly(t *testing.T) {
	tn := startNode(t)
	b := &browser{t: t, base: tn.base}
	b.signIn(tn.ro)
	if body := b.page("/console/"); !strings.Contains(body, "(read-only)") {
		t.Errorf("the dashboard does not say the session is read-only")
	}
	for _, p := range []string{"/console/backups", "/console/backups/1/restore", "/console/jobs/2/cancel"} {
		resp, body := b.send("POST", p, url.Values{"source": {"/x"}, "path": {"/top.txt"}, "to": {"/x"}}, "Sec-Fetch-Site: same-origin")
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "read-only") {
			t.Errorf("read-only POST %s: %d %s", p, resp.StatusCode, body)
		}
	}
	if j, err := tn.cat.Job(t.Context(), 2); err != nil || j.State != catalog.JobRunning {
		t.Errorf("job 2 after a read-only cancel: %+v %v", j, err)
	}
}

var startedRE = regexp.MustCompile(`\?started=(\d+)$`)

// TestConsoleBackupAndRestore drives the console as its forms do, without
// a browser: a backup started from the Backups page is on the dashboard
// with its event stream, which ends succeeded; one file chosen in the
// backup's tree is restored into a chosen directory, identical; a
// destination outside the exports is refused with the API's reason.
func TestConsoleBackupAndRestore(t *testing.T) {
	jn := startJobNode(t, jobNodeOptions{})
	src := jn.bigTree(t, "src", 16<<20)
	b := &browser{t: t, base: jn.base}
	b.signIn(jn.rw)
	resp, body := b.send("POST", "/console/backups", url.Values{"source": {src}}, "Sec-Fetch-Site: same-origin")
	m := startedRE.FindStringSubmatch(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusSeeOther || m == nil {
		t.Fatalf("start a backup: %d %s %s", resp.StatusCode, resp.Header.Get("Location"), body)
	}
	id := m[1]
	dash := b.page("/console/?started=" + id)
	if !strings.Contains(dash, `data-job="`+id+`"`) {
		t.Errorf("the dashboard does not list job %s:\n%s", id, dash)
	}
	resp, stream := b.send("GET", "/console/jobs/"+id+"/events", nil)
	evs, err := readEvents(strings.NewReader(stream))
	if err != nil || resp.StatusCode != http.StatusOK || len(evs) == 0 {
		t.Fatalf("events: %d %v %s", resp.StatusCode, err, stream)
	}
	end := evs[len(evs)-1]
	if end.event != "end" || end.data.State != catalog.JobSucceeded || end.data.BackupID == 0 {
		t.Fatalf("the backup ended %+v", end)
	}
	backup := strconv.FormatInt(end.data.BackupID, 10)
	tree := b.page("/console/backups/" + backup + "?dir=/sub")
	if !strings.Contains(tree, `value="/sub/small.txt"`) {
		t.Fatalf("the backup's tree has no /sub/small.txt:\n%s", tree)
	}
	resp, body = b.send("POST", "/console/backups/"+backup+"/restore", url.Values{"path": {"/tmp"}, "to": {"/tmp/elsewhere"}},
		"Sec-Fetch-Site: same-origin")
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "export") {
		t.Errorf("a restore outside the exports: %d %s", resp.StatusCode, body)
	}
	out := filepath.Join(jn.export, "restored")
	resp, body = b.send("POST", "/console/backups/"+backup+"/restore", url.Values{"path": {"/sub/small.txt"}, "to": {out}},
		"Sec-Fetch-Site: same-origin")
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/console/jobs/") {
		t.Fatalf("restore: %d %s %s", resp.StatusCode, loc, body)
	}
	rid, _ := strconv.ParseInt(strings.TrimPrefix(loc, "/console/jobs/"), 10, 64)
	if evs := jn.follow(rid); evs[len(evs)-1].data.State != catalog.JobSucceeded {
		t.Fatalf("the restore ended %+v", evs[len(evs)-1])
	}
	want, _ := os.ReadFile(filepath.Join(src, "sub", "small.txt"))
	got, err := os.ReadFile(filepath.Join(out, "sub", "small.txt"))
	if err != nil || !bytes.Equal(got, want) || len(want) != 100 {
		t.Fatalf("restored file: %d bytes (%v), want %d", len(got), err, len(want))
	}
	if _, err := os.Stat(filepath.Join(out, "f0")); err == nil {
		t.Error("the restore brought back files that were not chosen")
	}
	if page := b.page(loc); !strings.Contains(page, "succeeded") {
		t.Errorf("the restore's job page:\n%s", page)
	}
}
