package tarengine

import (
	"fmt"
	"sync"

	"ferry/internal/restore"
)

// A chain restore onto this agent is one RECOVER per backup of the chain.
// What an incremental's listing may remove is what the restore itself
// wrote from an earlier backup, so the recovers of one restore share the
// set of names written (restore.Written), kept here under the token the
// DMA names in FERRY_RESTORE_SET. The last recover (FERRY_RESTORE_LAST=y)
// drops it; at most maxRestoreSets are kept, the least recently used going
// first, so a DMA that vanishes mid-chain leaks nothing for long.
const maxRestoreSets = 8

// maxRestoreToken caps FERRY_RESTORE_SET.
const maxRestoreToken = 128

type restoreSet struct {
	written *restore.Written
	failed  bool   // an entry of an earlier recover failed: remove nothing
	used    uint64 // recency
}

type restoreSets struct {
	mu   sync.Mutex
	sets map[string]*restoreSet
	tick uint64
}

// get returns token's set, made if new.
func (s *restoreSets) get(token string) (*restoreSet, error) {
	if len(token) > maxRestoreToken {
		return nil, fmt.Errorf("%w: FERRY_RESTORE_SET longer than %d bytes", ErrBadEnv, maxRestoreToken)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sets == nil {
		s.sets = map[string]*restoreSet{}
	}
	s.tick++
	if rs, ok := s.sets[token]; ok {
		rs.used = s.tick
		return rs, nil
	}
	if len(s.sets) >= maxRestoreSets {
		var old string
		for k, v := range s.sets {
			if old == "" || v.used < s.sets[old].used {
				old = k
			}
		}
		delete(s.sets, old)
	}
	rs := &restoreSet{written: restore.NewWritten(), used: s.tick}
	s.sets[token] = rs
	return rs, nil
}

// done records a recover's outcome; the last one of a restore drops the set.
func (s *restoreSets) done(token string, failed, last bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if rs, ok := s.sets[token]; ok {
		rs.failed = rs.failed || failed
	}
	if last {
		delete(s.sets, token)
	}
}

// hasFailed reports an earlier failure of token's restore.
func (s *restoreSets) hasFailed(token string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	rs, ok := s.sets[token]
	return ok && rs.failed
}
