package dma

import (
	"errors"
	"testing"
	"time"
)

func TestCronNext(t *testing.T) {
	at := func(s string) time.Time {
		t.Helper()
		v, err := time.Parse("2006-01-02 15:04", s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, c := range []struct{ spec, from, want string }{
		{"0 2 * * *", "2026-03-10 01:59", "2026-03-10 02:00"},
		{"0 2 * * *", "2026-03-10 02:00", "2026-03-11 02:00"},
		{"*/15 * * * *", "2026-03-10 10:07", "2026-03-10 10:15"},
		{"*/15 * * * *", "2026-03-10 10:45", "2026-03-10 11:00"},
		{"5/20 * * * *", "2026-03-10 10:26", "2026-03-10 10:45"},
		{"30 4 1,15 * *", "2026-03-02 00:00", "2026-03-15 04:30"},
		{"0 0 * * mon", "2026-03-10 00:00", "2026-03-16 00:00"}, // the 10th is a Tuesday
		{"0 0 * * 7", "2026-03-10 00:00", "2026-03-15 00:00"},   // 7 is Sunday
		{"0 0 * * sun", "2026-03-10 00:00", "2026-03-15 00:00"},
		{"0 0 * * 1-5", "2026-03-13 12:00", "2026-03-16 00:00"}, // Friday noon to Monday
		{"0 0 29 2 *", "2026-03-01 00:00", "2028-02-29 00:00"},
		{"0 12 * feb-apr/2 *", "2026-05-01 00:00", "2027-02-01 12:00"},
		// Both day fields restricted: either matches (the 13th, or a Friday).
		{"0 0 13 * fri", "2026-03-07 00:00", "2026-03-13 00:00"},
		{"0 0 13 * fri", "2026-03-14 00:00", "2026-03-20 00:00"},
		{"@hourly", "2026-03-10 10:07", "2026-03-10 11:00"},
		{"@monthly", "2026-03-10 10:07", "2026-04-01 00:00"},
		{"59 23 31 dec *", "2026-12-31 23:59", "2027-12-31 23:59"},
	} {
		cr, err := ParseCron(c.spec)
		if err != nil {
			t.Fatalf("ParseCron(%q): %v", c.spec, err)
		}
		if got := cr.Next(at(c.from)); !got.Equal(at(c.want)) {
			t.Errorf("%q after %s: %s, want %s", c.spec, c.from, got.Format("2006-01-02 15:04 Mon"), c.want)
		}
	}
}

func TestCronLatest(t *testing.T) {
	cr, err := ParseCron("0 * * * *")
	if err != nil {
		t.Fatal(err)
	}
	from := time.Date(2026, 3, 10, 10, 0, 0, 0, time.UTC)
	if got := cr.Latest(from, from.Add(3*time.Hour+30*time.Minute)); !got.Equal(from.Add(3 * time.Hour)) {
		t.Fatalf("Latest = %v", got)
	}
	if got := cr.Latest(from, from.Add(59*time.Minute)); !got.IsZero() {
		t.Fatalf("Latest within the hour = %v, want none", got)
	}
}

func TestParseCronRefuses(t *testing.T) {
	for _, s := range []string{"", "* * * *", "* * * * * *", "60 * * * *", "* 24 * * *", "* * 0 * *", "* * 32 * *",
		"* * * 13 *", "* * * * 8", "*/0 * * * *", "5-1 * * * *", "1- * * * *", "-1 * * * *", "+1 * * * *",
		"0 0 30 2 *", "0 0 31 4,6,9,11 *", "a * * * *", "1,,2 * * * *", "*/61 * * * *", "@often"} {
		if _, err := ParseCron(s); !errors.Is(err, ErrBadCron) {
			t.Errorf("ParseCron(%q) = %v, want ErrBadCron", s, err)
		}
	}
}

// FuzzParseCron: any input is parsed or refused without panicking, and a
// schedule that parses fires at a later minute that Next agrees with.
func FuzzParseCron(f *testing.F) {
	f.Add("0 2 * * *")
	f.Add("*/7 1-5,22 1,15 jan-mar/2 mon-fri")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseCron(s)
		if err != nil {
			if !errors.Is(err, ErrBadCron) {
				t.Fatalf("error %v is not ErrBadCron", err)
			}
			return
		}
		from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		n := c.Next(from)
		if !n.After(from) || n.Second() != 0 {
			t.Fatalf("%q: Next(%v) = %v", s, from, n)
		}
		if again, err := ParseCron(c.String()); err != nil || again != c {
			t.Fatalf("%q: reparsing %q: %+v, %v", s, c.String(), again, err)
		}
	})
}
