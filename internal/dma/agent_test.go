package dma

import (
	"errors"
	"strings"
	"testing"
)

func TestParseTarget(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Target
	}{
		{"ndmp://nas/srv/data", Target{Agent: "nas", Path: "/srv/data"}},
		{"ndmp://nas", Target{Agent: "nas", Path: "/"}},
		{"ndmp://backup@10.0.0.5:10000/vol0", Target{Agent: "backup@10.0.0.5:10000", User: "backup", Host: "10.0.0.5:10000", Path: "/vol0"}},
		{"ndmp://127.0.0.1:10000/x", Target{Agent: "ndmp@127.0.0.1:10000", User: "ndmp", Host: "127.0.0.1:10000", Path: "/x"}},
	} {
		got, err := ParseTarget(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseTarget(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"nas/x", "http://nas/x", "ndmp:///x", "ndmp://u:pw@h:1/x", "ndmp://u@h/x", "ndmp://%zz/"} {
		_, err := ParseTarget(bad)
		if !errors.Is(err, ErrBadURL) {
			t.Errorf("ParseTarget(%q): %v, want ErrBadURL", bad, err)
		}
	}
	if _, err := ParseTarget("ndmp://u:secret@h:1/x"); err == nil || strings.Contains(err.Error(), "secret") {
		t.Errorf("a password in the URL: %v (must be refused without echoing it)", err)
	}
	if u, h, err := AgentURL("ndmp://ndmp@h:10000"); err != nil || u != "ndmp" || h != "h:10000" {
		t.Errorf("AgentURL: %q %q %v", u, h, err)
	}
	if _, _, err := AgentURL("ndmp://nas"); err == nil {
		t.Error("AgentURL accepted a name without address")
	}
}

func TestTargetDevice(t *testing.T) {
	for in, want := range map[string]string{
		"ndmp://nas/tape0":          "tape0",
		"ndmp://nas/tape0/":         "tape0",
		"ndmp://nas/dev/nst0":       "/dev/nst0",
		"ndmp://nas//nst0":          "/nst0",
		"ndmp://ndmp@h:1/srv/t.sim": "/srv/t.sim",
		"ndmp://nas":                "",
	} {
		tg, err := ParseTarget(in)
		if err != nil || tg.Device() != want {
			t.Errorf("%s: device %q, %v; want %q", in, tg.Device(), err, want)
		}
	}
}

// FuzzParseTarget: any string parses or fails with ErrBadURL, and what
// parses is consistent.
func FuzzParseTarget(f *testing.F) {
	f.Add("ndmp://nas/srv")
	f.Fuzz(func(t *testing.T, s string) {
		tg, err := ParseTarget(s)
		if err != nil {
			if !errors.Is(err, ErrBadURL) {
				t.Fatalf("error %v is not ErrBadURL", err)
			}
			return
		}
		if tg.Agent == "" || !strings.HasPrefix(tg.Path, "/") {
			t.Fatalf("%q parsed to %+v", s, tg)
		}
		if !tg.Registered() && (tg.User == "" || tg.Host == "") {
			t.Fatalf("%q parsed to %+v", s, tg)
		}
	})
}
