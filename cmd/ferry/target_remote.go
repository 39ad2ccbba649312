package main

import (
	"encoding/hex"
	"fmt"
	"net/netip"
	"strings"

	"github.com/spf13/cobra"

	"ferry/internal/node"
)

func newTargetAllowRemoteCommand(g *globalOptions) *cobra.Command {
	var r node.RemoteTarget
	var secretFile string
	cmd := &cobra.Command{
		Use:   "allow-remote INITIATOR IP:PORT/IQN [--chap-secret-file F] [--chap-user NAME] [--designator HEX...]",
		Short: "Let an initiator's EXTENDED COPY reach another iSCSI target (third-party copy)",
		Long: `Let the copy manager reach another iSCSI target on behalf of INITIATOR (already
on the access list: ferry target allow): an EXTENDED COPY from that initiator
may then name a LUN of the target at IP:PORT by an iSCSI CSCD descriptor (E5h
for IPv4, EAh for IPv6, e.g. 192.0.2.7:3260/iqn.2005-03.com.example:array or
[2001:db8::7]:3260/iqn...), and with --designator name the LUs whose VPD page
0x83 designators are listed (hex) by an identification descriptor (E4h). The
copy manager dials no target an initiator's list does not name.

It logs in as this target's IQN (ferry target ls), with CHAP when
--chap-secret-file is given (the file's first line, 12 to 255 bytes; --chap-user
defaults to this target's IQN). The secret is kept in STATE/iscsi/target.json,
mode 0600, and never printed. A second allow-remote of the same target replaces
its entry; a running server reads the list at start.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			state, err := stateDir(g)
			if err != nil {
				return err
			}
			if r.Portal, r.IQN, err = parseRemote(args[1]); err != nil {
				return err
			}
			for i, d := range r.Designators {
				if r.Designators[i], err = checkDesignator(d); err != nil {
					return err
				}
			}
			if secretFile != "" {
				if r.CHAPSecret, err = readCHAPSecret(secretFile); err != nil {
					return err
				}
			} else if r.CHAPUser != "" {
				return fmt.Errorf("--chap-user needs --chap-secret-file")
			}
			return editRemotes(state, args[0], func(rs []node.RemoteTarget) []node.RemoteTarget {
				return append(dropRemote(rs, r.Portal, r.IQN), r)
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&secretFile, "chap-secret-file", "", "file whose first line is the CHAP secret the remote target checks")
	f.StringVar(&r.CHAPUser, "chap-user", "", "CHAP name to log in with (default: this target's IQN)")
	f.StringArrayVar(&r.Designators, "designator", nil, "an LU designator (hex) E4h descriptors may find on the remote (repeatable)")
	return cmd
}

func newTargetDenyRemoteCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "deny-remote INITIATOR IP:PORT/IQN",
		Short: "Take a remote target off an initiator's third-party copy list",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			state, err := stateDir(g)
			if err != nil {
				return err
			}
			portal, iqn, err := parseRemote(args[1])
			if err != nil {
				return err
			}
			return editRemotes(state, args[0], func(rs []node.RemoteTarget) []node.RemoteTarget {
				return dropRemote(rs, portal, iqn)
			})
		},
	}
}

// parseRemote splits IP:PORT/IQN. The portal must be an IP literal: the
// CSCD descriptors that name it carry an address, not a host name.
func parseRemote(s string) (portal, iqn string, err error) {
	p, iqn, ok := strings.Cut(s, "/")
	if !ok {
		return "", "", fmt.Errorf("%q: want IP:PORT/IQN, e.g. 192.0.2.7:3260/iqn.2005-03.com.example:array", s)
	}
	ap, err := netip.ParseAddrPort(p)
	if err != nil || ap.Port() == 0 {
		return "", "", fmt.Errorf("%q: the portal must be IP:PORT (IPv6 as [ADDR]:PORT), a host name is not allowed", p)
	}
	if err := checkISCSIName(iqn); err != nil {
		return "", "", err
	}
	return ap.String(), iqn, nil
}

// checkDesignator normalises a designator given in hex: 1 to 20 bytes, as
// an E4h descriptor carries.
func checkDesignator(s string) (string, error) {
	b, err := hex.DecodeString(strings.TrimPrefix(strings.ToLower(s), "0x"))
	if err != nil || len(b) == 0 || len(b) > 20 {
		return "", fmt.Errorf("designator %q: want 1 to 20 bytes in hex (as VPD page 0x83 shows them)", s)
	}
	return hex.EncodeToString(b), nil
}

func dropRemote(rs []node.RemoteTarget, portal, iqn string) []node.RemoteTarget {
	var kept []node.RemoteTarget
	for _, r := range rs {
		if r.Portal != portal || r.IQN != iqn {
			kept = append(kept, r)
		}
	}
	return kept
}

// editRemotes changes the remotes of an initiator already on the ACL: an
// allow-remote never adds an initiator to the ACL (that would let it log
// in).
func editRemotes(state, initiator string, edit func([]node.RemoteTarget) []node.RemoteTarget) error {
	l := node.Layout{Root: state}
	s, err := node.LoadTargetState(l)
	if err != nil {
		return err
	}
	for i := range s.ACL {
		if s.ACL[i].Initiator == initiator {
			s.ACL[i].Remotes = edit(s.ACL[i].Remotes)
			return s.Save(l)
		}
	}
	return fmt.Errorf("initiator %s is not on the access list: ferry target allow %s first", initiator, initiator)
}

// printRemotes lists an entry's remotes for ls, secrets left out.
func printRemotes(w interface{ Write([]byte) (int, error) }, a node.ACLEntry) {
	for _, r := range a.Remotes {
		auth := "none"
		if r.CHAPSecret != "" {
			auth = "chap"
		}
		line := fmt.Sprintf("    remote\t%s\t%s", r.Name(), auth)
		if len(r.Designators) > 0 {
			line += "\tdesignators " + strings.Join(r.Designators, ",")
		}
		fmt.Fprintln(w, line)
	}
}
