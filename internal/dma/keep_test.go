package dma

import (
	"errors"
	"testing"
	"time"
)

func TestParseKeep(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"30d": 30 * 24 * time.Hour, "8w": 8 * 7 * 24 * time.Hour, "1y": 365 * 24 * time.Hour,
		"36h": 36 * time.Hour, "90m": 90 * time.Minute, "1h30m": 90 * time.Minute, "100y": maxKeep,
	} {
		if got, err := ParseKeep(in); err != nil || got != want {
			t.Errorf("ParseKeep(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "d", "-1d", "0d", "0", "1.5d", "30 d", "101y", "99999999999999999999d", "-5m", "forever"} {
		if got, err := ParseKeep(in); !errors.Is(err, ErrBadRetention) {
			t.Errorf("ParseKeep(%q) = %v, %v; want ErrBadRetention", in, got, err)
		}
	}
}

func FuzzParseKeep(f *testing.F) {
	for _, s := range []string{"30d", "8w", "7y", "36h", "1h30m", "", "0d", "-1w", "1e9y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseKeep(s)
		if err != nil {
			if !errors.Is(err, ErrBadRetention) {
				t.Fatalf("ParseKeep(%q): %v is not ErrBadRetention", s, err)
			}
			return
		}
		if d <= 0 || d > maxKeep {
			t.Fatalf("ParseKeep(%q) = %v, out of range", s, d)
		}
	})
}
