package node

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"ferry/internal/iscsi/initiator"
	"ferry/internal/scsi"
	"ferry/internal/scsi/xcopy"
)

// Bounds of the copy manager's sessions to foreign targets.
const (
	foreignLoginTimeout   = 10 * time.Second
	foreignCommandTimeout = 2 * time.Minute // a tape LOCATE or SPACE can be slow
)

// copyUnits is what the node's copy manager reaches: the LUs the issuing
// session sees (target.Target.UnitsOf), and, as the xcopy.Foreign
// ability, LUs of the other targets the issuing initiator's ACL entry
// lists (RemoteTarget). A target no entry of that initiator lists is
// never dialled. Sessions are pooled per (initiator, remote): reused by
// every segment and copy, logged out when idle.
type copyUnits struct {
	srv     *ISCSIServer
	self    string                    // the target's IQN: the copy manager's initiator name
	remotes map[string][]RemoteTarget // by initiator name
	pool    *initiator.Pool

	loginTimeout, cmdTimeout time.Duration
}

var (
	_ xcopy.Units   = (*copyUnits)(nil)
	_ xcopy.Foreign = (*copyUnits)(nil)
)

func newCopyUnits(srv *ISCSIServer, st *TargetState) *copyUnits {
	c := &copyUnits{srv: srv, self: st.Name, remotes: map[string][]RemoteTarget{}, pool: &initiator.Pool{},
		loginTimeout: foreignLoginTimeout, cmdTimeout: foreignCommandTimeout}
	for _, a := range st.ACL {
		c.remotes[a.Initiator] = a.Remotes
	}
	return c
}

// UnitsOf returns the LUs the nexus sees on this target.
func (c *copyUnits) UnitsOf(nexus string) []scsi.Device { return c.srv.tgt.UnitsOf(nexus) }

// initiatorName is the initiator of an I_T nexus "NAME,i,0xISID".
func initiatorName(nexus string) string {
	name, _, _ := strings.Cut(nexus, ",")
	return name
}

// ByPortal opens LUN lun of the remote the initiator's entry lists at
// portal. Two remotes at one portal (two IQNs) make the portal ambiguous:
// refused as not allowed, since a CSCD carries no target name.
func (c *copyUnits) ByPortal(ctx context.Context, nexus string, portal netip.AddrPort, lun uint64) (xcopy.ForeignUnit, error) {
	name := initiatorName(nexus)
	var match []RemoteTarget
	for _, r := range c.remotes[name] {
		ap, err := netip.ParseAddrPort(r.Portal)
		if err == nil && ap.Addr().Unmap() == portal.Addr().Unmap() && ap.Port() == portal.Port() {
			match = append(match, r)
		}
	}
	if len(match) != 1 {
		return nil, xcopy.ErrNotAllowed
	}
	return c.open(ctx, name, match[0], lun)
}

// ByDesignator opens every LU of the remotes whose entries list the
// designator, for the copy manager to pick the one that carries it.
func (c *copyUnits) ByDesignator(ctx context.Context, nexus string, value []byte) ([]xcopy.ForeignUnit, error) {
	name := initiatorName(nexus)
	want := hex.EncodeToString(value)
	var out []xcopy.ForeignUnit
	fail := func(err error) ([]xcopy.ForeignUnit, error) {
		for _, fu := range out {
			fu.Release()
		}
		return nil, err
	}
	for _, r := range c.remotes[name] {
		if !slices.ContainsFunc(r.Designators, func(d string) bool { return strings.EqualFold(d, want) }) {
			continue
		}
		s, release, err := c.session(ctx, name, r)
		if err != nil {
			return fail(err)
		}
		lctx, cancel := context.WithTimeout(ctx, c.cmdTimeout)
		luns, err := s.ReportLUNs(lctx)
		cancel()
		release()
		if err != nil {
			return fail(fmt.Errorf("%w: REPORT LUNS of %s: %v", xcopy.ErrUnreachable, r.Name(), err))
		}
		for _, lun := range luns {
			fu, err := c.open(ctx, name, r, lun)
			if err != nil {
				return fail(err)
			}
			out = append(out, fu)
		}
	}
	return out, nil
}

// open returns LUN lun of remote r as a foreign unit holding a pooled
// session.
func (c *copyUnits) open(ctx context.Context, name string, r RemoteTarget, lun uint64) (xcopy.ForeignUnit, error) {
	s, release, err := c.session(ctx, name, r)
	if err != nil {
		return nil, err
	}
	return &foreignUnit{u: initiator.NewUnit(s, lun), key: poolKey(name, r), pool: c.pool,
		timeout: c.cmdTimeout, release: release}, nil
}

// session returns the pooled session to r for the initiator's copies,
// logging in (with the entry's CHAP credentials) if there is none.
func (c *copyUnits) session(ctx context.Context, name string, r RemoteTarget) (*initiator.Session, func(), error) {
	cfg := initiator.Config{InitiatorName: c.self, TargetName: r.IQN}
	if r.CHAPSecret != "" {
		cfg.CHAP = &initiator.CHAP{User: r.CHAPUser, Secret: []byte(r.CHAPSecret)}
	}
	lctx, cancel := context.WithTimeout(ctx, c.loginTimeout)
	defer cancel()
	s, release, err := c.pool.Get(lctx, poolKey(name, r), r.Portal, cfg)
	if err != nil {
		// The error names the remote, never its secret.
		return nil, nil, fmt.Errorf("%w: %s: %v", xcopy.ErrUnreachable, r.Name(), err)
	}
	return s, release, nil
}

// poolKey names the session of one initiator's copies to one remote: the
// credentials are the initiator's entry's.
func poolKey(name string, r RemoteTarget) string {
	return name + "\x00" + r.Portal + "\x00" + r.IQN
}

// close logs out the pooled sessions.
func (c *copyUnits) close() { c.pool.Close() }

// foreignUnit is a remote LU during one copy. A command that ends without
// a status (connection lost, or no answer within the timeout) drops the
// session, so that it does not hang later copies, and fails as
// xcopy.ErrUnreachable.
type foreignUnit struct {
	u       *initiator.Unit
	key     string
	pool    *initiator.Pool
	timeout time.Duration
	release func()
}

func (f *foreignUnit) Execute(ctx context.Context, cmd *scsi.Command) error {
	cctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	err := f.u.Execute(cctx, cmd)
	if err == nil || ctx.Err() != nil {
		return err
	}
	var se *initiator.SenseError
	var st scsi.StatusError
	if errors.As(err, &se) || errors.As(err, &st) {
		return err
	}
	f.pool.Drop(f.key, f.u.Session())
	return fmt.Errorf("%w: %v", xcopy.ErrUnreachable, err)
}

func (f *foreignUnit) Release() { f.release() }
