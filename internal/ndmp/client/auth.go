package client

import (
	"context"
	"crypto/md5"
	"errors"
	"fmt"
	"slices"

	"ferry/internal/ndmp/wire"
)

// handshake agrees on a version and authenticates.
func (c *Conn) handshake(ctx context.Context) error {
	if err := c.negotiate(ctx); err != nil {
		return err
	}
	return c.authenticate(ctx)
}

// negotiate sends CONNECT_OPEN with the highest version both sides may
// speak, and retries with v3 when the agent refuses v4.
func (c *Conn) negotiate(ctx context.Context) error {
	want := min(c.opts.Version, wire.Version(c.offered.ProtocolVersion))
	if want > wire.V4 {
		want = wire.V4
	}
	for v := want; v >= wire.V3; v-- {
		err := c.open(ctx, v)
		if err == nil {
			return nil
		}
		if !IsNDMP(err, wire.ErrIllegalArgs) && !IsNDMP(err, wire.ErrNotSupported) {
			return err
		}
	}
	return fmt.Errorf("%w: agent offered v%d", ErrVersion, c.offered.ProtocolVersion)
}

func (c *Conn) open(ctx context.Context, v wire.Version) error {
	c.version.Store(uint32(v))
	var rep wire.ErrorReply
	err := c.Call(ctx, wire.CodeConnectOpen, &wire.ConnectOpenRequest{ProtocolVersion: uint16(v)}, &rep)
	if err != nil {
		return fmt.Errorf("client: CONNECT_OPEN v%d: %w", v, err)
	}
	return nil
}

// authenticate runs CONNECT_CLIENT_AUTH in the chosen or offered mode.
func (c *Conn) authenticate(ctx context.Context) error {
	modes := []AuthMode{c.opts.Auth}
	if c.opts.Auth == AuthAuto {
		modes = c.autoModes(ctx)
	}
	var errs []error
	for _, m := range modes {
		err := c.authAs(ctx, m)
		if err == nil {
			return nil
		}
		errs = append(errs, err)
		// Only a method the agent does not take moves on to the next.
		// Wrong credentials stop here: retrying them as TEXT would send
		// the password in clear to an agent that just refused it.
		if !IsNDMP(err, wire.ErrIllegalArgs) && !IsNDMP(err, wire.ErrNotSupported) {
			break
		}
	}
	return fmt.Errorf("%w: %w", ErrAuth, errors.Join(errs...))
}

// autoModes orders the methods by the agent's CONFIG_GET_SERVER_INFO:
// MD5 before TEXT (the password never crosses the wire), NONE only when
// offered. An agent that does not answer gets MD5 then TEXT.
func (c *Conn) autoModes(ctx context.Context) []AuthMode {
	info, err := c.ServerInfo(ctx)
	if err != nil {
		return []AuthMode{AuthMD5, AuthText}
	}
	var modes []AuthMode
	for _, t := range []struct {
		w wire.AuthType
		m AuthMode
	}{{wire.AuthMD5, AuthMD5}, {wire.AuthText, AuthText}, {wire.AuthNone, AuthNone}} {
		if slices.Contains(info.AuthType, t.w) {
			modes = append(modes, t.m)
		}
	}
	if len(modes) == 0 {
		modes = []AuthMode{AuthMD5, AuthText}
	}
	return modes
}

func (c *Conn) authAs(ctx context.Context, m AuthMode) error {
	a := wire.AuthData{AuthID: c.opts.User}
	switch m {
	case AuthNone:
		a.AuthType = wire.AuthNone
	case AuthText:
		a.AuthType, a.AuthPassword = wire.AuthText, c.opts.Password
	case AuthMD5:
		attr, err := c.AuthAttr(ctx, wire.AuthMD5)
		if err != nil {
			return fmt.Errorf("client: MD5 challenge: %w", err)
		}
		a.AuthType = wire.AuthMD5
		a.AuthDigest = MD5Digest(c.opts.Password, attr.Challenge)
	default:
		return fmt.Errorf("client: unknown auth mode %d", m)
	}
	var rep wire.ErrorReply
	if err := c.Call(ctx, wire.CodeConnectClientAuth, &wire.ConnectClientAuthRequest{AuthData: a}, &rep); err != nil {
		return fmt.Errorf("client: %v auth as %q: %w", a.AuthType, c.opts.User, err)
	}
	return nil
}

// MD5Digest is NDMP's MD5 authentication digest (spec §1.5.2): the MD5 of
// 128 bytes that hold the password at the start and at the end with the
// 64-byte challenge ending 64 bytes from the end, zeros elsewhere. A
// password over 32 bytes is cut to 32, as in NDMJOB.
func MD5Digest(password string, challenge [64]byte) [16]byte {
	pw := []byte(password)
	if len(pw) > 32 {
		pw = pw[:32]
	}
	var msg [128]byte
	copy(msg[:], pw)
	copy(msg[64-len(pw):], challenge[:])
	copy(msg[128-len(pw):], pw)
	return md5.Sum(msg[:])
}
