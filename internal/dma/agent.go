package dma

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"ferry/internal/ndmp/client"
)

// Errors of the jobs.
var (
	ErrBadURL    = errors.New("dma: bad ndmp:// URL")
	ErrNoBackup  = errors.New("dma: no such backup")
	ErrNotOnTape = errors.New("dma: backup has no tape location")
	ErrWrongTape = errors.New("dma: tape file is not the expected backup image")
	ErrTapeFull  = errors.New("dma: cartridge full and no other to continue on")
)

// Agent is an NDMP agent the jobs talk to.
type Agent struct {
	Name     string // registered name or USER@HOST:PORT; recorded in the catalog
	Addr     string // HOST:PORT
	User     string
	Password string
}

// Dial opens an authenticated NDMP connection to a, delivering posts to
// posts (nil: dropped).
func (a Agent) Dial(ctx context.Context, posts func(client.Post)) (*client.Conn, error) {
	c, err := client.Dial(ctx, a.Addr, client.Options{User: a.User, Password: a.Password, Posts: posts})
	if err != nil {
		return nil, fmt.Errorf("dma: connect to NDMP agent %s (%s): %w", a.Name, a.Addr, err)
	}
	return c, nil
}

// Target is a parsed ndmp://AGENT/PATH argument.
type Target struct {
	Agent string // registered name, or USER@HOST:PORT
	User  string // set when Agent is USER@HOST:PORT
	Host  string // HOST:PORT when Agent is USER@HOST:PORT
	Path  string // "/..." (a directory, or a drive name as "/tape0")
}

// Registered reports whether the target names a registered agent rather
// than USER@HOST:PORT.
func (t Target) Registered() bool { return t.Host == "" }

// ParseTarget parses ndmp://NAME/PATH or ndmp://USER@HOST:PORT/PATH. A
// password in the URL is refused: it would show in process lists and
// shell histories.
func ParseTarget(s string) (Target, error) {
	u, err := url.Parse(s)
	if err != nil {
		// url.Error repeats the URL, which may hold a password.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return Target{}, fmt.Errorf("%w: %v", ErrBadURL, err)
	}
	if u.Scheme != "ndmp" || u.Host == "" {
		return Target{}, fmt.Errorf("%w: %q: want ndmp://NAME/PATH or ndmp://USER@HOST:PORT/PATH", ErrBadURL, u.Redacted())
	}
	if _, set := u.User.Password(); set {
		return Target{}, fmt.Errorf("%w: %q carries a password; use --password-file or FERRY_NDMP_PASSWORD", ErrBadURL, u.Redacted())
	}
	t := Target{Path: u.Path}
	if t.Path == "" {
		t.Path = "/"
	}
	if u.User == nil && u.Port() == "" {
		t.Agent = u.Host
		return t, nil
	}
	if u.Port() == "" {
		return Target{}, fmt.Errorf("%w: %q: USER@HOST needs a :PORT (NDMP's is 10000)", ErrBadURL, u.Redacted())
	}
	t.Host = u.Host
	t.User = "ndmp"
	if u.User != nil && u.User.Username() != "" {
		t.User = u.User.Username()
	}
	t.Agent = t.User + "@" + t.Host
	return t, nil
}

// Device returns the tape or changer device a ndmp://AGENT/DEVICE URL
// names: one path element is a name as the agent lists it (tape0,
// nrst0a); a longer path is an absolute device path (ndmp://A/dev/nst0 is
// /dev/nst0), and a doubled slash keeps a one-element absolute path
// (ndmp://A//nst0 is /nst0). "" when the URL names none.
func (t Target) Device() string {
	p := strings.TrimSuffix(strings.TrimPrefix(t.Path, "/"), "/")
	if strings.Contains(p, "/") && !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	return p
}

// AgentURL parses an agent's registration URL ndmp://USER@HOST:PORT.
func AgentURL(s string) (user, hostport string, err error) {
	t, err := ParseTarget(s)
	if err != nil {
		return "", "", err
	}
	if t.Registered() || strings.Trim(t.Path, "/") != "" {
		return "", "", fmt.Errorf("%w: %q: an agent is ndmp://USER@HOST:PORT", ErrBadURL, s)
	}
	return t.User, t.Host, nil
}
