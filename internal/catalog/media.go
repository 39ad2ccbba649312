package catalog

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// MediaState is a cartridge's state in the catalog. The moves between
// states are in one table (mediaMoves); docs/catalog.md draws it.
type MediaState string

// Cartridge states.
const (
	// MediaScratch: blank, or every backup on it expired: a backup may
	// write it from its start.
	MediaScratch MediaState = "scratch"
	// MediaAppend: holds backups; the next backup appends after them
	// (catalogs before schema v6 called it "active").
	MediaAppend MediaState = "append"
	// MediaFull: a backup reached its end of medium on it.
	MediaFull MediaState = "full"
	// MediaFrozen: kept as it is: no backup writes it and nothing on it
	// expires until it is thawed.
	MediaFrozen MediaState = "frozen"
	// MediaRetired: out of use for good; its backups stay readable.
	MediaRetired MediaState = "retired"
	// MediaError: it lost recorded data or failed: never written again
	// until erased (back to scratch); its intact backups stay readable.
	MediaError MediaState = "error"
)

// DefaultPool is the pool of cartridges and backups that name none.
const DefaultPool = "default"

// ErrMediaMove is a state change the media state machine does not allow.
var ErrMediaMove = errors.New("catalog: cartridge state cannot change so")

// mediaMoves lists the states each state may move to. "" is a cartridge
// the catalog has not seen.
var mediaMoves = map[MediaState][]MediaState{
	"":           {MediaScratch, MediaAppend, MediaFull, MediaError},
	MediaScratch: {MediaScratch, MediaAppend, MediaFull, MediaError, MediaFrozen, MediaRetired},
	MediaAppend:  {MediaAppend, MediaScratch, MediaFull, MediaError, MediaFrozen, MediaRetired},
	MediaFull:    {MediaFull, MediaScratch, MediaError, MediaFrozen, MediaRetired},
	MediaFrozen:  {MediaFrozen, MediaAppend, MediaFull, MediaRetired},
	MediaError:   {MediaError, MediaScratch, MediaRetired},
	MediaRetired: {MediaRetired},
}

// Valid reports whether s is one of the states.
func (s MediaState) Valid() bool {
	_, ok := mediaMoves[s]
	return ok && s != ""
}

// Writable reports whether a backup may write a cartridge in state s (one
// the catalog has not seen is).
func (s MediaState) Writable() bool {
	return s == "" || s == MediaScratch || s == MediaAppend
}

// Move changes the cartridge's state to to, or returns ErrMediaMove.
func (m *Medium) Move(to MediaState) error {
	if !slices.Contains(mediaMoves[m.State], to) {
		return fmt.Errorf("%w: cartridge %s is %s, not %s", ErrMediaMove, m.Barcode, orNew(m.State), to)
	}
	m.State = to
	return nil
}

func orNew(s MediaState) string {
	if s == "" {
		return "new"
	}
	return string(s)
}

// expirable returns the backups of bs (none expired) whose expiry time has
// passed at now and on which no live backup depends: a base stays while
// any backup based on it, directly or through others, is kept.
func expirable(bs []Backup, now time.Time) []int64 {
	byUUID := map[string]int64{}
	for _, b := range bs {
		if b.UUID != "" {
			byUUID[b.UUID] = b.ID
		}
	}
	base := func(b Backup) int64 {
		if b.BaseUUID != "" {
			return byUUID[b.BaseUUID]
		}
		return b.BaseID
	}
	needed := map[int64]bool{} // bases of live backups, transitively
	byID := map[int64]Backup{}
	for _, b := range bs {
		byID[b.ID] = b
	}
	for _, b := range bs {
		if due(b, now) {
			continue
		}
		for id := base(b); id != 0 && !needed[id]; {
			needed[id] = true
			next, ok := byID[id]
			if !ok {
				break
			}
			id = base(next)
		}
	}
	var out []int64
	for _, b := range bs {
		if due(b, now) && !needed[b.ID] {
			out = append(out, b.ID)
		}
	}
	return out
}

// due reports whether a backup's expiry time has passed at now.
func due(b Backup, now time.Time) bool {
	return !b.Expires.IsZero() && !b.Expires.After(now)
}
