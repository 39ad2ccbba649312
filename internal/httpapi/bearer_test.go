package httpapi

import (
	"strings"
	"testing"
)

func TestBearer(t *testing.T) {
	for in, want := range map[string]string{
		"Bearer ferry_abc": "ferry_abc", "bearer ferry_abc": "ferry_abc", "BEARER  ferry_abc ": "ferry_abc",
		"": "", "Bearer": "", "Bearer ": "", "Basic ferry_abc": "", "Bearer a b": "", "Bearerferry_abc": "",
	} {
		got, ok := Bearer(in)
		if got != want || ok != (want != "") {
			t.Errorf("Bearer(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
}

func FuzzBearer(f *testing.F) {
	for _, s := range []string{"Bearer ferry_abc", "bearer  x ", "Basic x", "Bearer a\tb", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		tok, ok := Bearer(h)
		if !ok {
			return
		}
		if tok == "" || strings.ContainsAny(tok, " \t") || !strings.Contains(h, tok) {
			t.Fatalf("Bearer(%q) = %q", h, tok)
		}
	})
}
