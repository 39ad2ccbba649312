package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"ferry/internal/disk"
	"ferry/internal/iscsi"
	"ferry/internal/iscsi/target"
	"ferry/internal/library"
	"ferry/internal/scsi"
	"ferry/internal/scsi/sbc"
	"ferry/internal/scsi/smc"
	"ferry/internal/scsi/ssc"
	"ferry/internal/scsi/xcopy"
)

// targetStateFile is the iSCSI target's identity and ACL in the state
// directory (docs/iscsi-target.md, "State").
const targetStateFile = "iscsi/target.json"

// iscsiState is STATE/iscsi/target.json: the target's IQN, made once and
// kept so initiators find the same target after a restart, and its ACL.
// The file holds CHAP secrets and is mode 0600.
type iscsiState struct {
	Version int             `json:"version"`
	Name    string          `json:"name"`
	ACL     []iscsiACLEntry `json:"acl,omitempty"`
}

// iscsiACLEntry is one initiator allowed to log in.
type iscsiACLEntry struct {
	Initiator  string `json:"initiator"`
	CHAPSecret string `json:"chap_secret,omitempty"`
}

// loadTargetState reads the target state, creating it with a new IQN on
// first use.
func loadTargetState(state string) (*iscsiState, error) {
	path := filepath.Join(state, targetStateFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		s := &iscsiState{Version: 1, Name: newIQN()}
		return s, s.save(state)
	}
	if err != nil {
		return nil, fmt.Errorf("iscsi target state: %w", err)
	}
	var s iscsiState
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("iscsi target state %s: %w", path, err)
	}
	if s.Version != 1 || s.Name == "" {
		return nil, fmt.Errorf("iscsi target state %s: unsupported version %d or no name", path, s.Version)
	}
	return &s, nil
}

// save writes the state atomically, mode 0600.
func (s *iscsiState) save(state string) error {
	dir := filepath.Join(state, filepath.Dir(targetStateFile))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".target-*.json")
	if err != nil {
		return err
	}
	_, err = tmp.Write(append(b, '\n'))
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o600)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), filepath.Join(state, targetStateFile))
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
	return err
}

// newIQN makes a target name unique to this state directory:
// iqn.2026-01.dev.ferry:HOST-RANDOM.
func newIQN() string {
	host, _ := os.Hostname()
	var b strings.Builder
	for _, r := range strings.ToLower(host) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '.' {
			b.WriteRune(r)
		}
	}
	if b.Len() == 0 {
		b.WriteString("ferry")
	}
	rnd := make([]byte, 4)
	rand.Read(rnd)
	return "iqn.2026-01.dev.ferry:" + b.String() + "-" + hex.EncodeToString(rnd)
}

// targetConfig returns the Name and ACL of target.Config from the state
// directory; `ferry serve --iscsi` fills in Units and Logger.
func targetConfig(state string) (target.Config, error) {
	s, err := loadTargetState(state)
	if err != nil {
		return target.Config{}, err
	}
	cfg := target.Config{Name: s.Name}
	for _, a := range s.ACL {
		in := target.Initiator{Name: a.Initiator}
		if a.CHAPSecret != "" {
			in.Secret = []byte(a.CHAPSecret)
		}
		cfg.ACL = append(cfg.ACL, in)
	}
	return cfg, nil
}

func newTargetCommand(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "target",
		Short: "Show and configure the state directory's iSCSI target",
	}
	cmd.AddCommand(newTargetLsCommand(g), newTargetAllowCommand(g), newTargetNameCommand(g))
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
			s, err := loadTargetState(state)
			if err != nil {
				return err
			}
			s.Name = args[0]
			return s.save(state)
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
			s, err := loadTargetState(state)
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
				fmt.Fprintf(tw, "  allow\t%s\t%s\n", a.Initiator, auth)
			}
			return tw.Flush()
		},
	}
}

func newTargetAllowCommand(g *globalOptions) *cobra.Command {
	var secretFile string
	var noCHAP bool
	cmd := &cobra.Command{
		Use:   "allow INITIATOR (--chap-secret-file F | --no-chap)",
		Short: "Let an initiator log in to the target, with CHAP (--chap-secret-file) or without (--no-chap)",
		Long: `Add an initiator (its iSCSI name, e.g. iqn.1994-05.com.redhat:client) to the
target's access list, or replace its entry. With --chap-secret-file the
initiator must pass CHAP with the file's first line as the secret (12 to 255
bytes; the file must not be readable by group or others); with --no-chap it
logs in without authentication. One of the two is required, so that an
initiator's CHAP requirement is never dropped by accident. The list is kept
in STATE/iscsi/target.json, mode 0600; a running server reads it at start.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			state, err := stateDir(g)
			if err != nil {
				return err
			}
			return allowInitiator(state, args[0], secretFile, noCHAP)
		},
	}
	cmd.Flags().StringVar(&secretFile, "chap-secret-file", "", "file whose first line is the initiator's CHAP secret (12 to 255 bytes)")
	cmd.Flags().BoolVar(&noCHAP, "no-chap", false, "let the initiator log in without CHAP (drops a secret it had)")
	return cmd
}

// allowInitiator adds or replaces an ACL entry. Without a secret file the
// caller must say --no-chap: an entry's CHAP secret is never dropped
// silently.
func allowInitiator(state, name, secretFile string, noCHAP bool) error {
	if err := checkISCSIName(name); err != nil {
		return err
	}
	if secretFile != "" && noCHAP {
		return errors.New("give --chap-secret-file or --no-chap, not both")
	}
	entry := iscsiACLEntry{Initiator: name}
	if secretFile != "" {
		secret, err := readCHAPSecret(secretFile)
		if err != nil {
			return err
		}
		entry.CHAPSecret = secret
	}
	s, err := loadTargetState(state)
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
		}
	}
	s.ACL = append(kept, entry)
	return s.save(state)
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

// Where `ferry serve --iscsi` puts its logical units.
const (
	changerLUN   = 0
	firstDriveLU = 1
	maxDriveLUs  = 4
	firstDiskLUN = 5
)

// iscsiServer is the iSCSI side of `ferry serve`: the state directory's
// target with the library's changer on LUN 0, its drives on LUN 1..4 and
// every disk of STATE/disks on LUN 5 + the disk's index, following the
// disks directory while it runs.
type iscsiServer struct {
	tgt    *target.Target
	units  *target.UnitSet
	copier *xcopy.Manager // EXTENDED COPY on every LU, among the session's LUs
	addr   net.Addr
	drives []*ssc.Device
	cancel context.CancelFunc
	done   chan struct{} // the disk watcher and Serve ended

	mu    sync.Mutex
	disks map[string]*servedDisk // by NAA
}

type servedDisk struct {
	lun uint64
	d   *disk.Disk
}

// startISCSI listens on addr and serves the target until Shutdown. The
// disks directory is looked at every watchEvery.
func startISCSI(state string, lib *library.Library, addr string, watchEvery time.Duration, log *slog.Logger) (*iscsiServer, error) {
	cfg, err := targetConfig(state)
	if err != nil {
		return nil, err
	}
	s := &iscsiServer{units: target.NewUnitSet(), disks: map[string]*servedDisk{}, done: make(chan struct{})}
	cfg.Units, cfg.Logger = s.units, log
	s.addLibrary(lib, cfg.Name)
	if s.tgt, err = target.New(cfg); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("iSCSI listen: %w", err)
	}
	s.addr = ln.Addr()
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	first := make(chan struct{})
	var watched sync.WaitGroup
	watched.Add(1)
	go func() {
		defer watched.Done()
		var once sync.Once
		disk.Watch(ctx, filepath.Join(state, "disks"), watchEvery, func(ms []disk.Meta) {
			s.syncDisks(filepath.Join(state, "disks"), ms, cfg.Name, log)
			once.Do(func() { close(first) })
		})
		once.Do(func() { close(first) })
	}()
	<-first // serve the disks that exist from the first connection on
	go func() {
		if err := s.tgt.Serve(ln); !errors.Is(err, target.ErrClosed) {
			log.Error("iscsi: serve", "err", err)
		}
		watched.Wait()
		close(s.done)
	}()
	return s, nil
}

// addLibrary puts the changer and the drives on their LUNs.
func (s *iscsiServer) addLibrary(lib *library.Library, name string) {
	chg := smc.New(lib, smc.Identity{})
	addDesignators(chg.Inquiry(), name)
	s.attachCopier(chg)
	s.units.Set(changerLUN, chg)
	for i, drive := range lib.DriveNames() {
		if i == maxDriveLUs {
			break
		}
		d := ssc.New(lib, drive, ssc.Identity{})
		addDesignators(d.Inquiry(), name)
		s.attachCopier(d)
		s.drives = append(s.drives, d)
		s.units.Set(uint64(firstDriveLU+i), d)
	}
}

// attachCopier makes an LU serve EXTENDED COPY, finding units among the
// target's (the session's) own.
func (s *iscsiServer) attachCopier(h xcopy.Host) {
	if s.copier == nil {
		s.copier = xcopy.New(s.units)
	}
	s.copier.Attach(h)
}

func addDesignators(inq *scsi.Inquiry, name string) {
	inq.Designators = append(inq.Designators, target.PortDesignators(name)...)
}

// syncDisks serves new disks and drops removed ones; a change after the
// first look raises REPORTED LUNS DATA HAS CHANGED.
func (s *iscsiServer) syncDisks(dir string, ms []disk.Meta, name string, log *slog.Logger) {
	s.mu.Lock()
	defer s.mu.Unlock()
	changed := false
	// Disks are known by their NAA, which is fixed for a disk's life: a disk
	// removed and created again under the same name is another disk.
	current := map[string]disk.Meta{}
	for _, m := range ms {
		current[m.NAA] = m
	}
	// Drop first: a new disk may take the LUN of one just removed.
	for naa, sd := range s.disks {
		if _, ok := current[naa]; !ok {
			s.units.Set(sd.lun, nil)
			sd.d.Close()
			delete(s.disks, naa)
			changed = true
		}
	}
	for naa, m := range current {
		if _, ok := s.disks[naa]; ok {
			continue
		}
		d, err := disk.Open(dir, m.Name)
		if err != nil {
			log.Warn("iscsi: disk not served", "disk", m.Name, "err", err)
			continue
		}
		dev := sbc.New(d, sbc.Identity{})
		addDesignators(dev.Inquiry(), name)
		s.attachCopier(dev)
		lun := uint64(firstDiskLUN + m.Index)
		s.units.Set(lun, dev)
		s.disks[naa] = &servedDisk{lun: lun, d: d}
		changed = true
	}
	if changed && s.tgt != nil {
		s.tgt.LUNsChanged()
	}
}

// Name returns the target's IQN; Addr the portal.
func (s *iscsiServer) Name() string   { return s.tgt.Name() }
func (s *iscsiServer) Addr() net.Addr { return s.addr }

// Shutdown stops the target (running commands answer first), the disk
// watcher, and closes the drives and disks.
func (s *iscsiServer) Shutdown(ctx context.Context) error {
	err := s.tgt.Shutdown(ctx)
	s.cancel()
	<-s.done
	for _, d := range s.drives {
		d.Close()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sd := range s.disks {
		sd.d.Close()
	}
	return err
}

// needCHAPChoice explains why `allow NAME` without --chap-secret-file or
// --no-chap is refused; nil when NAME is already allowed without CHAP
// (nothing would change).
func needCHAPChoice(s *iscsiState, name string) error {
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
