package console

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"sync"
	"time"

	"ferry/internal/httpapi/token"
)

// Session limits. A session ends at whichever comes first: maxAge after
// sign-in, idle without a request, sign-out, its token revoked, or the
// serve process stopping (sessions live in its memory only).
const (
	sessionMaxAge  = 24 * time.Hour
	sessionIdle    = 8 * time.Hour
	maxSessions    = 10000
	sessionIDBytes = 32
)

// session is one signed-in browser. It keeps the token's name and hash
// (as the token file has them), never the token.
type session struct {
	token         token.Token
	created, seen time.Time
}

// sessions are the signed-in browsers, keyed by the SHA-256 of their
// session id: the map is never searched with the secret itself, and a
// copy of the memory holds no usable cookie.
type sessions struct {
	now func() time.Time

	mu sync.Mutex
	m  map[[sha256.Size]byte]*session
}

func newSessions(now func() time.Time) *sessions {
	return &sessions{now: now, m: map[[sha256.Size]byte]*session{}}
}

// open starts a session for t and returns its id, the cookie's value.
func (s *sessions) open(t token.Token) string {
	b := make([]byte, sessionIDBytes)
	rand.Read(b) // never fails (crypto/rand)
	id := base64.RawURLEncoding.EncodeToString(b)
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.m) >= maxSessions {
		s.dropOldest()
	}
	s.m[sha256.Sum256([]byte(id))] = &session{token: t, created: now, seen: now}
	return id
}

// get returns the live session id names, marking it seen.
func (s *sessions) get(id string) (token.Token, bool) {
	k := sha256.Sum256([]byte(id))
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, ok := s.m[k]
	if !ok {
		return token.Token{}, false
	}
	if now.Sub(ss.created) > sessionMaxAge || now.Sub(ss.seen) > sessionIdle {
		delete(s.m, k)
		return token.Token{}, false
	}
	ss.seen = now
	return ss.token, true
}

// end ends session id.
func (s *sessions) end(id string) {
	k := sha256.Sum256([]byte(id))
	s.mu.Lock()
	delete(s.m, k)
	s.mu.Unlock()
}

// endToken ends every session opened with t (it was revoked).
func (s *sessions) endToken(t token.Token) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, ss := range s.m {
		if ss.token.Name == t.Name && ss.token.Hash == t.Hash {
			delete(s.m, k)
		}
	}
}

// dropOldest makes room by ending the least recently seen session.
func (s *sessions) dropOldest() {
	var oldest [sha256.Size]byte
	var at time.Time
	for k, ss := range s.m {
		if at.IsZero() || ss.seen.Before(at) {
			oldest, at = k, ss.seen
		}
	}
	delete(s.m, oldest)
}
