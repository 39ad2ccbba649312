package main

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"ferry/internal/iscsi"
	"ferry/internal/node"
)

func newTargetCommand(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "target",
		Short: "Show and configure the state directory's iSCSI target",
	}
	cmd.AddCommand(newTargetLsCommand(g), newTargetAllowCommand(g), newTargetNameCommand(g), newTargetAddCommand(g))
	cmd.AddCommand(newTargetAllowRemoteCommand(g), newTargetDenyRemoteCommand(g))
	return cmd
}

func newTargetNameCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "name IQN",
		Short: "Give the target an iSCSI name of your own naming authority",
		Long: `Set the iSCSI name of the state directory's target, replacing the one made on
first use (iqn.2026-01.dev.ferry:HOST-RANDOM). Sites name targets under a
domain they own, e.g. iqn.2005-03.com.example:backup-1; eui. and naa. names
are accepted too. Initiators that logged in before must discover the target
again; a running server picks the name up when it restarts.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			state, err := stateDir(g)
			if err != nil {
				return err
			}
			if err := checkISCSIName(args[0]); err != nil {
				return err
			}
			s, err := node.LoadTargetState(node.Layout{Root: state})
			if err != nil {
				return err
			}
			s.Name = args[0]
			return s.Save(node.Layout{Root: state})
		},
	}
}

func newTargetLsCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "ls",
		Short: "Print the target's IQN and the initiators allowed to log in",
		Long: `Print the iSCSI name (IQN) of the state directory's target, the same across
restarts, and the initiators on its access list. When every portal of
'ferry serve --iscsi' is a loopback address any initiator may log in;
otherwise only these, with CHAP where a secret is set.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			state, err := stateDir(g)
			if err != nil {
				return err
			}
			s, err := node.LoadTargetState(node.Layout{Root: state})
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintln(out, s.Name)
			tw := tabwriter.NewWriter(out, 2, 8, 2, ' ', 0)
			for _, a := range s.ACL {
				auth := "none"
				if a.CHAPSecret != "" {
					auth = "chap"
				}
				fmt.Fprintf(tw, "  allow\t%s\t%s\t%s\n", a.Initiator, auth, sees(a))
				printRemotes(tw, a)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			return printSANTargets(cmd.Context(), g, out)
		},
	}
}

// sees describes the LUs an ACL entry sees, for ls.
func sees(a node.ACLEntry) string {
	if !a.Masked() {
		return "all LUs"
	}
	var parts []string
	for _, d := range a.Disks {
		parts = append(parts, "disk "+d)
	}
	for _, l := range a.Libraries {
		parts = append(parts, "library "+l)
	}
	return strings.Join(parts, ", ")
}

// defaultLibrary names the node's one library in ACL entries: by its
// changer's name (library.Library.ChangerName).
const defaultLibrary = "changer0"

func newTargetAllowCommand(g *globalOptions) *cobra.Command {
	var secretFile string
	var noCHAP bool
	var lus node.ACLEntry
	cmd := &cobra.Command{
		Use:   "allow INITIATOR (--chap-secret-file F | --no-chap) [--disk NAME...] [--library]",
		Short: "Let an initiator log in to the target, with CHAP (--chap-secret-file) or without (--no-chap)",
		Long: `Add an initiator (its iSCSI name, e.g. iqn.1994-05.com.redhat:client) to the
target's access list, or replace its entry. With --chap-secret-file the
initiator must pass CHAP with the file's first line as the secret (12 to 255
bytes; the file must not be readable by group or others); with --no-chap it
logs in without authentication. One of the two is required, so that an
initiator's CHAP requirement is never dropped by accident. The list is kept
in STATE/iscsi/target.json, mode 0600; a running server reads it at start.

--disk and --library limit the logical units the initiator sees (LUN
masking): only the disks named (ferry disk create NAME), and with --library
the library's changer and drives (LUNs 0-4; the library is named by its
changer, changer0). REPORT LUNS lists only those, any other LUN answers as
if it did not exist, and EXTENDED COPY reaches only those. Without either
the initiator sees every LU. The entry is replaced whole: give every disk
the initiator may see each time.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			state, err := stateDir(g)
			if err != nil {
				return err
			}
			return allowInitiator(state, args[0], secretFile, noCHAP, lus)
		},
	}
	f := cmd.Flags()
	f.StringVar(&secretFile, "chap-secret-file", "", "file whose first line is the initiator's CHAP secret (12 to 255 bytes)")
	f.BoolVar(&noCHAP, "no-chap", false, "let the initiator log in without CHAP (drops a secret it had)")
	f.StringArrayVar(&lus.Disks, "disk", nil, "a disk the initiator may see (repeatable; default: every LU)")
	f.StringArrayVar(&lus.Libraries, "library", nil, "let the initiator see the library's changer and drives (--library or --library=changer0)")
	f.Lookup("library").NoOptDefVal = defaultLibrary
	return cmd
}

// allowInitiator adds or replaces an ACL entry, seeing the disks and
// libraries of lus (every LU when it names none). Without a secret file
// the caller must say --no-chap: an entry's CHAP secret is never dropped
// silently.
func allowInitiator(state, name, secretFile string, noCHAP bool, lus node.ACLEntry) error {
	if err := checkISCSIName(name); err != nil {
		return err
	}
	if secretFile != "" && noCHAP {
		return errors.New("give --chap-secret-file or --no-chap, not both")
	}
	for _, l := range lus.Libraries {
		if l != defaultLibrary {
			return fmt.Errorf("--library %s: the node has one library, %s", l, defaultLibrary)
		}
	}
	entry := node.ACLEntry{Initiator: name, Disks: lus.Disks, Libraries: slices.Compact(lus.Libraries)}
	if secretFile != "" {
		secret, err := readCHAPSecret(secretFile)
		if err != nil {
			return err
		}
		entry.CHAPSecret = secret
	}
	s, err := node.LoadTargetState(node.Layout{Root: state})
	if err != nil {
		return err
	}
	if secretFile == "" && !noCHAP {
		if err := needCHAPChoice(s, name); err != nil {
			return err
		}
	}
	kept := s.ACL[:0]
	for _, a := range s.ACL {
		if a.Initiator != name {
			kept = append(kept, a)
		} else {
			entry.Remotes = a.Remotes // kept: allow-remote/deny-remote edit them
		}
	}
	s.ACL = append(kept, entry)
	return s.Save(node.Layout{Root: state})
}

// checkISCSIName checks an iSCSI name's form (RFC 7143 section 4.2.7):
// iqn.YYYY-MM.reversed.domain[:anything], eui. and 16 hex digits, or naa.
// and 16 or 32 hex digits; at most 223 bytes, no spaces or upper case
// (names compare after lower-casing, so ferry keeps them lower case).
func checkISCSIName(n string) error {
	bad := func(why string) error {
		return fmt.Errorf("%q is not an iSCSI name: %s (e.g. iqn.2005-03.com.example:host1)", n, why)
	}
	if len(n) > 223 {
		return bad("longer than 223 bytes")
	}
	for _, r := range n {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || strings.ContainsRune("-.:", r)) {
			return bad(fmt.Sprintf("%q is not allowed (lower-case letters, digits, '-', '.', ':')", r))
		}
	}
	hexDigits := func(s string, sizes ...int) bool {
		for _, r := range s {
			if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f') {
				return false
			}
		}
		return slices.Contains(sizes, len(s))
	}
	decimal := func(s string, size int) bool {
		return len(s) == size && strings.Trim(s, "0123456789") == ""
	}
	switch {
	case strings.HasPrefix(n, "eui."):
		if !hexDigits(n[4:], 16) {
			return bad("eui. takes 16 hex digits")
		}
	case strings.HasPrefix(n, "naa."):
		if !hexDigits(n[4:], 16, 32) {
			return bad("naa. takes 16 or 32 hex digits")
		}
	case strings.HasPrefix(n, "iqn."):
		rest, _, _ := strings.Cut(n[4:], ":")
		date, domain, ok := strings.Cut(rest, ".")
		year, month, dash := strings.Cut(date, "-")
		if !ok || !dash || !decimal(year, 4) || !decimal(month, 2) || domain == "" {
			return bad("iqn. takes a date YYYY-MM and a reversed domain name")
		}
		if month < "01" || month > "12" {
			return bad("the month must be 01 to 12")
		}
	default:
		return bad("it must start with iqn., eui. or naa.")
	}
	return nil
}

// needCHAPChoice explains why `allow NAME` without --chap-secret-file or
// --no-chap is refused; nil when NAME is already allowed without CHAP
// (nothing would change).
func needCHAPChoice(s *node.TargetState, name string) error {
	for _, a := range s.ACL {
		if a.Initiator != name {
			continue
		}
		if a.CHAPSecret == "" {
			return nil
		}
		return fmt.Errorf("initiator %s logs in with CHAP: give --chap-secret-file F to change its secret, or --no-chap to let it log in without CHAP", name)
	}
	return fmt.Errorf("initiator %s: give --chap-secret-file F to require CHAP, or --no-chap to let it log in without authentication", name)
}

// readCHAPSecret reads a CHAP secret file and checks the secret's length.
func readCHAPSecret(path string) (string, error) {
	secret, err := readPasswordFile(path)
	if err != nil {
		return "", err
	}
	if err := iscsi.CheckCHAPSecret([]byte(secret)); err != nil {
		return "", fmt.Errorf("CHAP secret in %s is %d bytes; it must be %d to %d (RFC 7143 wants at least %d)",
			path, len(secret), iscsi.MinCHAPSecret, iscsi.MaxCHAPSecret, iscsi.MinCHAPSecret)
	}
	return secret, nil
}
