package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"ferry/internal/catalog"
	"ferry/internal/dma"
	"ferry/internal/ndmp/client"
	"ferry/internal/ndmp/wire"
	"ferry/internal/size"
	"ferry/internal/view"
)

type backupOptions struct {
	tape        string
	level       int
	incremental bool
	exclude     []string
	pwFile      string
	tapePwFile  string
	asJSON      bool
	overwrite   bool // --overwrite-unlabeled
	changer     dma.ChangerOptions
}

func newBackupCommand(g *globalOptions) *cobra.Command {
	var o backupOptions
	cmd := &cobra.Command{
		Use:   "backup DIR | ndmp://AGENT/PATH",
		Short: "Back up a directory to tape through an NDMP agent, recording it in the catalog",
		Long: `Back up a directory to tape and record it in the catalog (STATE/catalog.db).

With a plain DIR, ferry starts its own NDMP agent inside the process on the
state directory's tape library and backs DIR up to drive tape0, appending
after the backups already on its cartridge.

With ndmp://AGENT/PATH, the agent is a registered one (ferry agent add) or
USER@HOST:PORT; an unregistered agent's password comes from --password-file
or FERRY_NDMP_PASSWORD, never from the URL. Data and tape are on that agent
(--tape ndmp://AGENT/DRIVE names the drive).

--incremental backs up what changed since the newest backup of the same
directory; --level N since the newest backup of a lower level.

Each cartridge starts with ferry's volume label; a cartridge holding other
data is refused unless --overwrite-unlabeled. When a cartridge fills up, the
backup continues on the next usable one the tape agent's changer holds.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runBackup(cmd.Context(), g, args[0], o, cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.tape, "tape", "", "tape drive as ndmp://AGENT/DRIVE (default: drive tape0 of the data agent)")
	f.IntVar(&o.level, "level", 0, "dump level: 0 full, N since the newest lower level")
	f.BoolVar(&o.incremental, "incremental", false, "back up what changed since the newest backup of this directory")
	f.StringArrayVar(&o.exclude, "exclude", nil, "leave out files whose name or relative path matches this pattern (repeatable)")
	f.StringVar(&o.pwFile, "password-file", "", "password of an unregistered agent (else $FERRY_NDMP_PASSWORD)")
	f.StringVar(&o.tapePwFile, "tape-password-file", "", "password of an unregistered tape agent (default: as the data agent's)")
	f.BoolVar(&o.asJSON, "json", false, "print the backup as JSON")
	f.BoolVar(&o.overwrite, "overwrite-unlabeled", false, "label a cartridge that holds data ferry did not write, losing that data")
	changerFlags(f, &o.changer)
	return cmd
}

func runBackup(ctx context.Context, g *globalOptions, what string, o backupOptions, out io.Writer) error {
	if o.incremental && o.level != 0 {
		return errors.New("give --level N or --incremental, not both")
	}
	if o.level < 0 {
		return errors.New("--level must be 0 or more")
	}
	state, err := stateDir(g)
	if err != nil {
		return err
	}
	cat, err := openCatalog(ctx, g, state)
	if err != nil {
		return err
	}
	defer cat.Close()
	spec := dma.BackupSpec{Level: o.level, Incremental: o.incremental, Exclude: o.exclude, OverwriteUnlabeled: o.overwrite, ChangerOptions: o.changer}
	if strings.HasPrefix(what, "ndmp://") {
		if err := remoteBackupSpec(ctx, cat, what, o, &spec); err != nil {
			return err
		}
	} else {
		dir, err := localDir(what)
		if err != nil {
			return err
		}
		export := filepath.Dir(dir)
		la, err := startLocalAgent(state, []string{export}, ownFiles(g, state)...)
		if err != nil {
			return err
		}
		defer la.stop()
		spec.Agent, spec.Path, spec.Drive = la.agent, dir, "tape0"
		if err := tapeSpec(ctx, cat, localAgentName, o, &spec); err != nil {
			return err
		}
	}
	progress, stopProgress := progressLine(o.asJSON)
	spec.Progress = progress
	b, err := dma.Backup(ctx, cat, spec)
	stopProgress()
	if err != nil {
		if client.IsNDMP(err, wire.ErrDeviceBusy) {
			err = fmt.Errorf("%w (%s)", err, deviceBusyHint(spec.Drive, spec.Path, state))
		}
		if b.ID != 0 {
			return fmt.Errorf("backup %d of %s failed: %w", b.ID, spec.Path, err)
		}
		return err
	}
	var ps []string
	if b.Status == catalog.StatusWarnings {
		ps = problems(ctx, cat, b.JobID)
	}
	if o.asJSON {
		doc := view.BackupOf(b)
		doc.Warnings = ps
		if err := json.NewEncoder(out).Encode(doc); err != nil {
			return err
		}
	} else {
		printBackup(out, b)
	}
	if b.Status == catalog.StatusWarnings {
		return warningsExit(os.Stderr, fmt.Sprintf("backup %d of %s", b.ID, b.Path), b.JobID, ps)
	}
	return nil
}

// printBackup prints the one-line summary of a finished backup.
func printBackup(out io.Writer, b catalog.Backup) {
	var where []string
	for _, l := range b.Locations {
		where = append(where, fmt.Sprintf("tape %s file %d", orDash(l.Barcode), l.FileNum))
	}
	fmt.Fprintf(out, "backup %d: %s on %s, level %d, %d files, %s in %s; %s\n",
		b.ID, b.Path, b.Agent, b.Level, b.Files, size.Format(uint64(b.Bytes)), b.Ended.Sub(b.Started).Round(time.Millisecond),
		strings.Join(where, ", "))
}

// remoteBackupSpec fills spec for ndmp://AGENT/PATH.
func remoteBackupSpec(ctx context.Context, cat catalog.Catalog, what string, o backupOptions, spec *dma.BackupSpec) error {
	t, err := dma.ParseTarget(what)
	if err != nil {
		return err
	}
	a, err := resolveAgent(ctx, cat, t.Agent, o.pwFile)
	if err != nil {
		return err
	}
	spec.Agent, spec.Path, spec.Drive = a, t.Path, "tape0"
	return tapeSpec(ctx, cat, t.Agent, o, spec)
}

// tapeSpec applies --tape ndmp://AGENT/DRIVE: a drive of the data agent,
// or another agent's (a 3-way backup).
func tapeSpec(ctx context.Context, cat catalog.Catalog, dataAgent string, o backupOptions, spec *dma.BackupSpec) error {
	if o.tape == "" {
		return nil
	}
	tt, err := dma.ParseTarget(o.tape)
	if err != nil {
		return fmt.Errorf("--tape: %w", err)
	}
	spec.Drive = tt.Device()
	if spec.Drive == "" {
		return errors.New("--tape ndmp://AGENT/DRIVE: name the drive, e.g. tape0 or /dev/nst0")
	}
	if tt.Agent == dataAgent {
		return nil
	}
	pw := o.tapePwFile
	if pw == "" {
		pw = o.pwFile
	}
	ta, err := resolveAgent(ctx, cat, tt.Agent, pw)
	if err != nil {
		return fmt.Errorf("tape agent: %w", err)
	}
	spec.Tape = &ta
	spec.Barcode = "" // unknown on another agent's library
	return nil
}

// localDir resolves a directory to back up on this machine.
func localDir(p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	abs, err = filepath.EvalSymlinks(abs)
	if err != nil {
		return "", fmt.Errorf("back up %s: %w", p, err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return "", err
	}
	if !fi.IsDir() {
		return "", fmt.Errorf("back up %s: not a directory", p)
	}
	return abs, nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// stderrIsTerminal reports whether standard error is a character device.
func stderrIsTerminal() bool {
	fi, err := os.Stderr.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// progressLine returns a channel for progress events, drawn as one line
// rewritten with \r on a terminal (nothing otherwise or with --json), and
// a function that ends the line.
func progressLine(asJSON bool) (chan<- dma.Progress, func()) {
	if asJSON || !stderrIsTerminal() {
		return nil, func() {}
	}
	ch := make(chan dma.Progress, 8)
	done := make(chan struct{})
	go func() {
		defer close(done)
		drawn := false
		for p := range ch {
			line := fmt.Sprintf("%s: %s, %d files, %s/s", p.Phase, size.Format(uint64(p.Bytes)), p.Files, size.Format(uint64(p.Rate)))
			if p.ETA > 0 {
				line += ", ETA " + p.ETA.Round(time.Second).String()
			}
			fmt.Fprintf(os.Stderr, "\r\033[K%s", line)
			drawn = true
		}
		if drawn {
			fmt.Fprint(os.Stderr, "\r\033[K")
		}
	}()
	return ch, func() { close(ch); <-done }
}

// deviceBusyHint explains a DEVICE_BUSY from the local agent: most likely
// a ferry serve on the same state directory holds the drive. Its password
// is whatever that serve was started with, which this process cannot
// know, so the hint names where it is kept rather than guess a file.
func deviceBusyHint(drive, path, state string) string {
	return fmt.Sprintf("another session holds drive %s: if ferry serve runs on this state directory, back up through it with "+
		"ferry backup ndmp://USER@HOST:PORT%s --password-file FILE, where FILE holds the password of the ferry serve holding the drive "+
		"(its --ndmp-password-file, default %s; USER is its --ndmp-user, default ndmp)",
		drive, path, filepath.Join(state, "ndmp-password"))
}
