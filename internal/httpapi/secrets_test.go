package httpapi

import (
	"net/http"
	"strings"
	"testing"
)

// TestNoSecretLeaks: no answer of any route (read, refused, failed) and
// no line of the node's log carries a token, the NDMP password or a CHAP
// secret. The log is written at debug level.
func TestNoSecretLeaks(t *testing.T) {
	tn := startNode(t)
	var answers strings.Builder
	keep := func(code int, body []byte, hdr http.Header) {
		answers.Write(body)
		for k, vs := range hdr {
			answers.WriteString(k + ": " + strings.Join(vs, ",") + "\n")
		}
	}
	for _, rt := range routes {
		p := tn.concrete(rt.path)
		for _, tok := range []string{"", tn.ro, tn.rw, tn.rw + "x"} {
			keep(tn.do(rt.method, p, tok))
			keep(tn.do("DELETE", p, tok))
		}
	}
	for _, p := range []string{"/api/v1/backups/999", "/api/v1/nothing", "/api/v1/backups?limit=x"} {
		keep(tn.do("GET", p, tn.rw))
	}
	if !strings.Contains(answers.String(), "iqn.2026-01.test:client") || !strings.Contains(tn.log.String(), "token=scraper") {
		t.Fatal("the test saw neither the ACL nor the request log: it would prove nothing")
	}
	for name, secret := range map[string]string{"read-write token": tn.rw, "read-only token": tn.ro,
		"NDMP password": ndmpPassword, "CHAP secret": chapSecret} {
		if strings.Contains(answers.String(), secret) {
			t.Errorf("an answer carries the %s", name)
		}
		if strings.Contains(tn.log.String(), secret) {
			t.Errorf("the log carries the %s", name)
		}
	}
}
