package dma

import (
	"errors"
	"fmt"
	"math/bits"
	"strconv"
	"strings"
	"time"
)

// ErrBadCron is a schedule ParseCron cannot read.
var ErrBadCron = errors.New("dma: bad schedule")

// Cron is a parsed 5-field schedule: minute, hour, day of month, month,
// day of week (docs/policies.md, "Schedules"). Each field is a bit set of
// the values it matches.
type Cron struct {
	minute, hour, dom, month, dow uint64
	// domStar and dowStar: the field was "*" (or "*/N"); when neither is,
	// a day matches if either day field does, as cron has always done.
	domStar, dowStar bool
	text             string
}

// cronField is one field's bounds and names.
type cronField struct {
	what     string
	min, max int
	names    []string // names[i] is the value min+i
}

var cronFields = [5]cronField{
	{what: "minute", min: 0, max: 59},
	{what: "hour", min: 0, max: 23},
	{what: "day of month", min: 1, max: 31},
	{what: "month", min: 1, max: 12, names: []string{"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}},
	// 7 is Sunday too, as in every cron.
	{what: "day of week", min: 0, max: 7, names: []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}},
}

// cronMacros are the shorthands cron has always accepted.
var cronMacros = map[string]string{
	"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
	"@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
}

// maxCronLen bounds a schedule's text: no real one is near it.
const maxCronLen = 256

// ParseCron reads a schedule in the standard 5-field syntax: each field
// "*", a value, a range "A-B", a step "*/N", "A-B/N" or "A/N", or a
// comma-separated list of those; months and days of the week also by
// their English three-letter names; and @hourly, @daily, @weekly,
// @monthly, @yearly. A schedule that never fires ("0 0 30 2 *") is
// refused.
func ParseCron(s string) (Cron, error) {
	bad := func(format string, args ...any) (Cron, error) {
		return Cron{}, fmt.Errorf("%w %q: %s", ErrBadCron, s, fmt.Sprintf(format, args...))
	}
	if len(s) > maxCronLen {
		return bad("longer than %d characters", maxCronLen)
	}
	text := strings.TrimSpace(s)
	if m, ok := cronMacros[strings.ToLower(text)]; ok {
		text = m
	}
	fields := strings.Fields(text)
	if len(fields) != 5 {
		return bad("give 5 fields (minute hour day-of-month month day-of-week), e.g. \"0 2 * * *\"")
	}
	var c Cron
	sets := [5]*uint64{&c.minute, &c.hour, &c.dom, &c.month, &c.dow}
	for i, f := range fields {
		set, err := cronFields[i].parse(f)
		if err != nil {
			return bad("%v", err)
		}
		*sets[i] = set
	}
	if c.dow&(1<<7) != 0 {
		c.dow |= 1 // 7 is Sunday
	}
	c.domStar = strings.HasPrefix(fields[2], "*")
	c.dowStar = strings.HasPrefix(fields[4], "*")
	c.text = strings.Join(fields, " ")
	// Every day of every month occurs within 8 years (29 February
	// included), so a schedule with no time in them never fires.
	if c.Next(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)).IsZero() {
		return bad("it never fires (no such day)")
	}
	return c, nil
}

// String is the schedule as parsed (macros expanded).
func (c Cron) String() string { return c.text }

// parse reads one field into a bit set of the values it matches.
func (f cronField) parse(s string) (uint64, error) {
	var set uint64
	for _, part := range strings.Split(s, ",") {
		lo, hi, step, err := f.term(part)
		if err != nil {
			return 0, err
		}
		for v := lo; v <= hi; v += step {
			set |= 1 << v
		}
	}
	return set, nil
}

// term reads one list element: its range and step.
func (f cronField) term(s string) (lo, hi, step int, err error) {
	rng, stepText, hasStep := strings.Cut(s, "/")
	step = 1
	if hasStep {
		n, err := strconv.Atoi(stepText)
		if err != nil || n < 1 || n > f.max-f.min+1 {
			return 0, 0, 0, fmt.Errorf("%s step %q: give 1 to %d", f.what, stepText, f.max-f.min+1)
		}
		step = n
	}
	switch a, b, isRange := strings.Cut(rng, "-"); {
	case rng == "*":
		lo, hi = f.min, f.max
		if f.max == 7 {
			hi = 6 // "*" in day of week: Sunday once
		}
	case isRange:
		if lo, err = f.value(a); err == nil {
			hi, err = f.value(b)
		}
		if err == nil && hi < lo {
			err = fmt.Errorf("%s range %q runs backwards", f.what, rng)
		}
	default:
		if lo, err = f.value(rng); err == nil {
			hi = lo
			if hasStep { // "A/N": from A to the end
				hi = f.max
			}
		}
	}
	return lo, hi, step, err
}

// value reads one number or name of the field.
func (f cronField) value(s string) (int, error) {
	for i, n := range f.names {
		if strings.EqualFold(s, n) {
			return f.min + i, nil
		}
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < f.min || n > f.max || s == "" || s[0] == '+' || s[0] == '-' {
		return 0, fmt.Errorf("%s %q: give %d to %d", f.what, s, f.min, f.max)
	}
	return n, nil
}

// searchYears bounds Next: every schedule ParseCron accepts fires well
// within it.
const searchYears = 9

// Next returns the first time after t (to the minute, in t's location)
// the schedule fires, or the zero time if it fires in none of the next
// years (only a Cron that ParseCron refused would).
func (c Cron) Next(t time.Time) time.Time {
	if c.minute == 0 {
		return time.Time{}
	}
	loc := t.Location()
	t = t.Truncate(time.Minute).Add(time.Minute)
	end := t.AddDate(searchYears, 0, 0)
	for t.Before(end) {
		switch {
		case c.month&(1<<int(t.Month())) == 0:
			t = time.Date(t.Year(), t.Month()+1, 1, 0, 0, 0, 0, loc)
		case !c.dayMatches(t):
			t = time.Date(t.Year(), t.Month(), t.Day()+1, 0, 0, 0, 0, loc)
		case c.hour&(1<<t.Hour()) == 0:
			t = time.Date(t.Year(), t.Month(), t.Day(), t.Hour()+1, 0, 0, 0, loc)
		case c.minute&(1<<t.Minute()) == 0:
			// Jump to the next matching minute of this hour, if any.
			rest := c.minute >> t.Minute() >> 1
			if rest == 0 {
				t = time.Date(t.Year(), t.Month(), t.Day(), t.Hour()+1, 0, 0, 0, loc)
				continue
			}
			t = t.Add(time.Duration(bits.TrailingZeros64(rest)+1) * time.Minute)
		default:
			return t
		}
	}
	return time.Time{}
}

// Latest returns the last time in (after, upTo] the schedule fires, or the
// zero time if none: what a node that was stopped across several of them
// runs once.
func (c Cron) Latest(after, upTo time.Time) time.Time {
	var last time.Time
	for t := c.Next(after); !t.IsZero() && !t.After(upTo); t = c.Next(t) {
		last = t
	}
	return last
}

func (c Cron) dayMatches(t time.Time) bool {
	dom := c.dom&(1<<t.Day()) != 0
	dow := c.dow&(1<<int(t.Weekday())) != 0
	if c.domStar || c.dowStar {
		return dom && dow
	}
	return dom || dow
}
