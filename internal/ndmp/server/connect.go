package server

import (
	"crypto/md5"
	"crypto/rand"
	"crypto/subtle"

	"ferry/internal/ndmp/wire"
)

// connectOpen fixes the protocol version. Before anything else was agreed,
// v3 and v4 are accepted and anything else is ILLEGAL_ARGS (the DMA may
// retry lower); afterwards only the agreed version is, as in NDMJOB.
func connectOpen(s *session, r *wire.ConnectOpenRequest) wire.Body {
	v := wire.Version(r.ProtocolVersion)
	switch {
	case s.agreed && v != s.version:
		return errorReply(wire.ErrIllegalArgs)
	case v != wire.V3 && v != wire.V4:
		return errorReply(wire.ErrIllegalArgs)
	}
	s.agree(v)
	return errorReply(wire.ErrNone)
}

// agree fixes the session's protocol version.
func (s *session) agree(v wire.Version) {
	s.version = v
	s.agreed = true
	s.out.setVersion(v)
}

// connectClientAuth checks TEXT or MD5 credentials against the configured
// ones. AUTH_NONE is accepted only by a server configured without any
// credentials (an open agent); otherwise it is ILLEGAL_ARGS, like any
// other type the server does not offer.
//
// A TEXT or MD5 check first waits its turn (netguard.Throttle): after
// failures of this connection or of its client address, a backoff that
// doubles with each. MaxAuthFailures failures end the connection.
func connectClientAuth(s *session, r *wire.ConnectClientAuthRequest) wire.Body {
	a := &r.AuthData
	var ok bool
	switch a.AuthType {
	case wire.AuthText, wire.AuthMD5:
		if err := s.srv.throttle.Wait(s.ctx, s.conn.RemoteAddr(), s.authFails, s.authBy); err != nil {
			s.challenge = nil // a challenge is good for one attempt
			return s.authFailed(a, err.Error())
		}
		if a.AuthType == wire.AuthText {
			ok = s.checkText(a.AuthID, a.AuthPassword)
		} else {
			ok = s.checkMD5(a.AuthID, a.AuthDigest)
		}
	case wire.AuthNone:
		if len(s.srv.cfg.Credentials) != 0 {
			return errorReply(wire.ErrIllegalArgs)
		}
		ok = true
	default:
		return errorReply(wire.ErrIllegalArgs)
	}
	if !ok {
		return s.authFailed(a, "wrong user or password")
	}
	s.authed = true
	s.slot.Release()
	s.log.Debug("ndmp: authenticated", "user", a.AuthID, "type", a.AuthType)
	return errorReply(wire.ErrNone)
}

// authFailed counts a failed authentication (before the peer hears of
// it, so its next attempt already waits longer), logs it if the address
// has not been logged lately, and ends the session after too many.
func (s *session) authFailed(a *wire.AuthData, why string) wire.Body {
	s.authFails++
	if log, suppressed := s.srv.throttle.Failed(s.conn.RemoteAddr()); log {
		s.log.Warn("ndmp: authentication failed", "user", a.AuthID, "type", a.AuthType, "why", why,
			"failures_not_logged", suppressed)
	}
	if s.authFails >= s.srv.cfg.MaxAuthFailures {
		s.hangup = "too many failed authentications"
	}
	return errorReply(wire.ErrNotAuthorized)
}

func (s *session) checkText(user, password string) bool {
	want, ok := s.srv.cfg.Credentials[user]
	if !ok || want == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(want), []byte(password)) == 1
}

// checkMD5 verifies a digest against the last challenge handed out; a
// challenge is good for one attempt.
func (s *session) checkMD5(user string, digest [16]byte) bool {
	challenge := s.challenge
	s.challenge = nil
	want, ok := s.srv.cfg.Credentials[user]
	if !ok || want == "" || challenge == nil {
		return false
	}
	sum := md5Digest(want, challenge)
	return subtle.ConstantTimeCompare(sum[:], digest[:]) == 1
}

// md5Digest computes NDMP's MD5 authentication digest (ndmp.md §1.5): MD5
// of 128 bytes holding the password at the start, the 64-byte challenge
// ending 64 bytes from the end, and the password again at the end, zeros
// elsewhere; the password is cut to 32 bytes so the parts cannot overlap.
func md5Digest(password string, challenge []byte) [16]byte {
	pw := []byte(password)
	if len(pw) > 32 {
		pw = pw[:32]
	}
	var msg [128]byte
	copy(msg[:], pw)
	copy(msg[64-len(pw):], challenge[:min(len(challenge), 64)])
	copy(msg[128-len(pw):], pw)
	return md5.Sum(msg[:])
}

// connectServerAuth answers honestly: ferry has no credentials of its own
// to prove, so it offers only AUTH_NONE and refuses the others.
func connectServerAuth(s *session, r *wire.ConnectServerAuthRequest) wire.Body {
	if r.ClientAttr.AuthType != wire.AuthNone {
		return &wire.ConnectServerAuthReply{Error: wire.ErrNotSupported.For(s.version)}
	}
	return &wire.ConnectServerAuthReply{Error: wire.ErrNone, ServerResult: wire.AuthData{AuthType: wire.AuthNone}}
}

// configGetAuthAttr returns a fresh MD5 challenge on every call.
func configGetAuthAttr(s *session, r *wire.ConfigGetAuthAttrRequest) wire.Body {
	reply := &wire.ConfigGetAuthAttrReply{}
	switch r.AuthType {
	case wire.AuthNone, wire.AuthText:
		reply.ServerAttr.AuthType = r.AuthType
	case wire.AuthMD5:
		reply.ServerAttr.AuthType = wire.AuthMD5
		rand.Read(reply.ServerAttr.Challenge[:])
		s.challenge = append(s.challenge[:0], reply.ServerAttr.Challenge[:]...)
	default:
		reply.Error = wire.ErrIllegalArgs
	}
	return reply
}
