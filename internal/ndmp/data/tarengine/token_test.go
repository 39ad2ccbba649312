package tarengine

import (
	"testing"
	"time"
)

func TestTokenRoundTrip(t *testing.T) {
	tok := Token{Start: time.Unix(1700000000, 123456789), Level: 7}
	back, err := ParseToken(tok.String())
	if err != nil || !back.Start.Equal(tok.Start) || back.Level != 7 {
		t.Fatalf("%v -> %v, %v", tok, back, err)
	}
	if secs, err := ParseToken("1700000000"); err != nil || secs.Start.Unix() != 1700000000 {
		t.Errorf("decimal seconds: %v %v", secs, err)
	}
	for _, bad := range []string{"", "ferry1:x:0", "ferry2:1:1", "ferry1:-5:0", "yesterday"} {
		if _, err := ParseToken(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

// FuzzParseToken: never a panic; a parsed ferry1 token prints back to itself.
func FuzzParseToken(f *testing.F) {
	f.Add("ferry1:1700000000123456789:3")
	f.Add("1700000000")
	f.Fuzz(func(t *testing.T, s string) {
		tok, err := ParseToken(s)
		if err != nil {
			return
		}
		again, err := ParseToken(tok.String())
		if err != nil || !again.Start.Equal(tok.Start) || again.Level != tok.Level {
			t.Fatalf("%q: %v then %v %v", s, tok, again, err)
		}
	})
}
