package dma

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ErrBadRetention is a retention ParseKeep cannot read.
var ErrBadRetention = errors.New("dma: bad retention")

// keepUnits are the units of a retention beyond Go's durations.
var keepUnits = map[byte]time.Duration{'d': 24 * time.Hour, 'w': 7 * 24 * time.Hour, 'y': 365 * 24 * time.Hour}

// maxKeep bounds a retention: a hundred years is "forever" enough, and
// keeps end times far from overflowing.
const maxKeep = 100 * 365 * 24 * time.Hour

// ParseKeep reads a retention as admins write one: a whole number of days,
// weeks or years ("30d", "8w", "7y") or a Go duration ("36h", "90m").
func ParseKeep(s string) (time.Duration, error) {
	bad := func() (time.Duration, error) {
		return 0, fmt.Errorf("%w %q: give e.g. 30d, 8w, 1y or 36h", ErrBadRetention, s)
	}
	if s == "" {
		return bad()
	}
	var d time.Duration
	if unit, ok := keepUnits[s[len(s)-1]]; ok {
		digits := s[:len(s)-1]
		if digits == "" || strings.TrimLeft(digits, "0123456789") != "" {
			return bad()
		}
		n, err := strconv.ParseInt(digits, 10, 64)
		if err != nil || n > int64(maxKeep/unit) {
			return bad()
		}
		d = time.Duration(n) * unit
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return bad()
		}
	}
	if d <= 0 || d > maxKeep {
		return bad()
	}
	return d, nil
}
