package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"ferry/internal/catalog"
	"ferry/internal/dma"
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
	pool        string
	keep        string
	changer     dma.ChangerOptions
	serverless  bool
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
			if o.serverless {
				return runServerlessBackup(cmd.Context(), g, args[0], o.tape, o.incremental, o.asJSON, cmd.OutOrStdout())
			}
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
	f.StringVar(&o.pool, "pool", "", "write to cartridges of this pool (default: the pool \"default\")")
	f.StringVar(&o.keep, "keep", "", "keep the backup this long, e.g. 30d, 8w, 1y; then ferry prune expires it (default: until expired by hand)")
	changerFlags(f, &o.changer)
	f.BoolVar(&o.serverless, "serverless", false, "copy the disk LU iscsi://HOST:PORT/IQN/LUN to tape by EXTENDED COPY (--tape: a drive LU, else a free drive of its target's library)")
	return cmd
}

func runBackup(ctx context.Context, g *globalOptions, what string, o backupOptions, out io.Writer) error {
	return withManager(ctx, g, func(m *dma.Manager) error {
		r := dma.BackupRequest{Source: what, Tape: o.tape, Level: o.level, Incremental: o.incremental, Exclude: o.exclude,
			OverwriteUnlabeled: o.overwrite, Changer: o.changer, Pool: o.pool}
		var err error
		if o.keep != "" {
			if r.Keep, err = dma.ParseKeep(o.keep); err != nil {
				return fmt.Errorf("--keep: %w", err)
			}
		}
		if r.Password, err = optionalPassword(o.pwFile); err != nil {
			return err
		}
		if r.TapePassword, err = optionalPassword(o.tapePwFile); err != nil {
			return err
		}
		progress, stopProgress := progressLine(o.asJSON)
		r.Progress = progress
		b, err := m.Backup(ctx, r)
		stopProgress()
		if err != nil {
			return err
		}
		var ps []string
		if b.Status == catalog.StatusWarnings {
			ps = m.Problems(ctx, b.JobID)
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
	})
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
