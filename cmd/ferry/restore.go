package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"ferry/internal/catalog"
	"ferry/internal/dma"
	"ferry/internal/size"
	"ferry/internal/view"
)

type restoreOptions struct {
	to        string
	tape      string
	pwFile    string
	overwrite bool
	keepDmg   bool
	asJSON    bool
	changer   dma.ChangerOptions
}

func newRestoreCommand(g *globalOptions) *cobra.Command {
	var o restoreOptions
	cmd := &cobra.Command{
		Use:   "restore BACKUP --to DEST [PATH...]",
		Short: "Restore a backup (an incremental with its chain) into a directory",
		Long: `Restore a backup into DEST, a directory on this machine: the backed-up
directory's contents are recreated under DEST. An incremental is restored with
its chain (the full backup first, then each incremental in order), so files
deleted or renamed along the chain are gone at the end.

Each PATH is relative to the backed-up directory and restores that file or
subtree at the same relative place. Existing files are kept unless
--overwrite is given. Restoring an incremental removes only what the restore
itself wrote from an earlier backup of the chain and the incremental no longer
holds; with --overwrite it also removes, within the chosen PATHs (everything
when none), what DEST held that the backup did not. A restore that fails
removes nothing.

Every file is checked against the checksum recorded when it was backed up: a
file whose data on tape differs is left out (--keep-damaged keeps it as
NAME.ferry-damaged), named, and the restore fails; so does an image that
delivers fewer entries than the catalog lists.

The images are read back through the NDMP agent that wrote them (ferry's own
for backups of a plain directory); --tape ndmp://AGENT/DRIVE reads them from
another drive.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.changer.DriveBusy = busyNotice(cmd.ErrOrStderr())
			return runRestore(cmd.Context(), g, args[0], args[1:], o, cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	waitDriveFlag(f, &o.changer)
	f.StringVar(&o.to, "to", "", "destination directory")
	f.StringVar(&o.tape, "tape", "", "read from this drive, ndmp://AGENT/DRIVE (default: the drive the backup was written with)")
	f.StringVar(&o.pwFile, "password-file", "", "password of an unregistered agent (else $FERRY_NDMP_PASSWORD)")
	changerFlags(f, &o.changer)
	f.BoolVar(&o.overwrite, "overwrite", false, "replace existing files (and let an incremental remove what the backup did not hold)")
	f.BoolVar(&o.keepDmg, "keep-damaged", false, "keep a file that fails its checksum as NAME.ferry-damaged")
	f.BoolVar(&o.asJSON, "json", false, "print the outcome as JSON")
	cmd.MarkFlagRequired("to")
	return cmd
}

func runRestore(ctx context.Context, g *globalOptions, arg string, paths []string, o restoreOptions, out io.Writer) error {
	id, err := backupID(arg)
	if err != nil {
		return err
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
	b, err := cat.Backup(ctx, id)
	if err != nil {
		return noBackup(id, err)
	}
	if strings.HasPrefix(o.to, "ndmp://") {
		return runAgentRestore(ctx, cat, state, b, paths, o, out)
	}
	to, err := filepath.Abs(o.to)
	if err != nil {
		return err
	}
	spec := dma.RestoreSpec{BackupID: id, To: to, Paths: paths, Overwrite: o.overwrite, KeepDamaged: o.keepDmg, ChangerOptions: o.changer}
	var stop func()
	if spec.Agent, spec.Drive, stop, err = tapeAgentFor(ctx, cat, state, b, o.tape, o.pwFile); err != nil {
		return err
	}
	defer stop()
	progress, stopProgress := progressLine(o.asJSON)
	spec.Progress = progress
	res, err := dma.Restore(ctx, cat, spec)
	stopProgress()
	r := view.Restore{Backup: id, Chain: res.Chain, To: to, Restored: res.Summary.Restored, Skipped: res.Summary.Skipped,
		Failed: res.Summary.Failed, Removed: res.Summary.Removed, Bytes: res.Summary.Bytes, Read: res.Read}
	if err != nil {
		err = fmt.Errorf("restore of backup %d: %w", id, err)
		r.Error = err.Error()
	}
	if o.asJSON {
		if jerr := json.NewEncoder(out).Encode(r); jerr != nil {
			return jerr
		}
		return err
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "restored backup %d (chain %v) into %s: %d entries, %s; %d removed\n",
		id, res.Chain, to, r.Restored, size.Format(uint64(r.Bytes)), r.Removed)
	return nil
}

// runAgentRestore restores onto an agent's file system (--to
// ndmp://AGENT/PATH): through that agent's own tape when it holds the
// backup's cartridge, else 3-way from the agent that does (--tape, or the
// backup job's tape agent).
func runAgentRestore(ctx context.Context, cat catalog.Catalog, state string, b catalog.Backup, paths []string, o restoreOptions, out io.Writer) error {
	t, err := dma.ParseTarget(o.to)
	if err != nil {
		return fmt.Errorf("--to: %w", err)
	}
	tapeName, tapeDrive := jobTapeAgent(ctx, cat, b), ""
	if o.tape != "" {
		tt, err := dma.ParseTarget(o.tape)
		if err != nil {
			return fmt.Errorf("--tape: %w", err)
		}
		tapeName, tapeDrive = tt.Agent, tt.Device()
	}
	threeWay := t.Agent != tapeName
	spec := dma.AgentRestoreSpec{BackupID: b.ID, To: t.Path, Paths: paths, Overwrite: o.overwrite, KeepDamaged: o.keepDmg, ChangerOptions: o.changer}
	if threeWay {
		// The data service of the agent in --to, the tape and mover of
		// the agent holding the cartridge.
		ta, drive, stop, err := tapeAgentFor(ctx, cat, state, b, o.tape, o.pwFile)
		if err != nil {
			return err
		}
		defer stop()
		spec.Tape, spec.Drive = &ta, drive
	}
	if t.Agent == localAgentName {
		if err := os.MkdirAll(t.Path, 0o755); err != nil {
			return fmt.Errorf("restore destination: %w", err)
		}
		la, err := startLocalAgent(state, []string{t.Path})
		if err != nil {
			return err
		}
		defer la.stop()
		spec.Agent = la.agent
		if !threeWay {
			spec.Drive = "tape0"
			if len(b.Locations) > 0 && b.Locations[0].Barcode != "" {
				spec.Drive = la.driveWith(b.Locations[0].Barcode)
			}
		}
	} else {
		if spec.Agent, err = resolveAgent(ctx, cat, t.Agent, o.pwFile); err != nil {
			return err
		}
		if !threeWay {
			spec.Drive = cmp.Or(tapeDrive, jobDrive(ctx, cat, b))
		}
	}
	progress, stopProgress := progressLine(o.asJSON)
	spec.Progress = progress
	res, err := dma.RestoreToAgent(ctx, cat, spec)
	stopProgress()
	r := view.Restore{Backup: b.ID, Chain: res.Chain, To: o.to, Read: res.Read}
	if err != nil {
		err = fmt.Errorf("restore of backup %d: %w", b.ID, err)
		r.Error = err.Error()
	}
	if o.asJSON {
		if jerr := json.NewEncoder(out).Encode(r); jerr != nil {
			return jerr
		}
		return err
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "restored backup %d (chain %v) onto %s, %s read from tape\n", b.ID, res.Chain, o.to, size.Format(uint64(res.Read)))
	return nil
}

// backupJob returns the spec of the job that wrote backup b (zero when the
// catalog has none).
func backupJob(ctx context.Context, cat catalog.Catalog, b catalog.Backup) dma.BackupJobSpec {
	var spec dma.BackupJobSpec
	if j, err := cat.Job(ctx, b.JobID); err == nil {
		spec, _ = dma.DecodeBackupJobSpec(j.Spec)
	}
	return spec
}

// jobDrive returns the drive a backup was written with, from its job.
func jobDrive(ctx context.Context, cat catalog.Catalog, b catalog.Backup) string {
	if d := backupJob(ctx, cat, b).Drive; d != "" {
		return d
	}
	return "tape0"
}

// jobTapeAgent returns the agent whose drive holds a backup: the data
// agent unless the backup was 3-way.
func jobTapeAgent(ctx context.Context, cat catalog.Catalog, b catalog.Backup) string {
	if a := backupJob(ctx, cat, b).TapeAgent; a != "" {
		return a
	}
	return b.Agent
}

// tapeAgentFor returns the agent and drive to read backup b's tape with:
// --tape when given, else the tape agent and drive of its job (ferry's
// in-process agent for "local", started here; stop shuts it down).
func tapeAgentFor(ctx context.Context, cat catalog.Catalog, state string, b catalog.Backup, tape, pwFile string) (a dma.Agent, drive string, stop func(), err error) {
	stop = func() {}
	if tape != "" {
		t, err := dma.ParseTarget(tape)
		if err != nil {
			return a, "", stop, fmt.Errorf("--tape: %w", err)
		}
		a, err = resolveAgent(ctx, cat, t.Agent, pwFile)
		return a, t.Device(), stop, err
	}
	name := jobTapeAgent(ctx, cat, b)
	if name != localAgentName {
		a, err = resolveAgent(ctx, cat, name, pwFile)
		return a, jobDrive(ctx, cat, b), stop, err
	}
	la, err := startLocalAgent(state, nil)
	if err != nil {
		return a, "", stop, err
	}
	drive = "tape0"
	if len(b.Locations) > 0 && b.Locations[0].Barcode != "" {
		drive = la.driveWith(b.Locations[0].Barcode)
	}
	return la.agent, drive, la.stop, nil
}

func newVerifyCommand(g *globalOptions) *cobra.Command {
	var tape, pwFile string
	var asJSON bool
	var co dma.ChangerOptions
	cmd := &cobra.Command{
		Use:   "verify BACKUP",
		Short: "Read a backup back from tape and check it against the catalog, writing nothing",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := backupID(args[0])
			if err != nil {
				return err
			}
			state, err := stateDir(g)
			if err != nil {
				return err
			}
			cat, err := openCatalog(cmd.Context(), g, state)
			if err != nil {
				return err
			}
			defer cat.Close()
			b, err := cat.Backup(cmd.Context(), id)
			if err != nil {
				return noBackup(id, err)
			}
			a, drive, stop, err := tapeAgentFor(cmd.Context(), cat, state, b, tape, pwFile)
			if err != nil {
				return err
			}
			defer stop()
			co.DriveBusy = busyNotice(cmd.ErrOrStderr())
			res, err := dma.Verify(cmd.Context(), cat, dma.VerifySpec{Agent: a, Drive: drive, BackupID: id, ChangerOptions: co})
			if asJSON {
				doc := map[string]any{"backup": id, "entries": res.Entries, "bytes": res.Bytes, "read": res.Read,
					"differences": res.Differ, "mismatches": res.Mismatches, "checksummed": res.Checksummed, "ok": err == nil}
				if err != nil {
					doc["error"] = err.Error()
				}
				if jerr := json.NewEncoder(cmd.OutOrStdout()).Encode(doc); jerr != nil {
					return jerr
				}
				return err
			}
			for _, m := range res.Mismatches {
				fmt.Fprintln(cmd.OutOrStdout(), m)
			}
			if err != nil {
				return err
			}
			how := fmt.Sprintf("%d files' data match their checksums", res.Checksummed)
			if res.Checksummed == 0 {
				how = "no checksums recorded (names and sizes checked)"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "backup %d verified: %d entries, %s of file data, match the catalog; %s\n",
				id, res.Entries, size.Format(uint64(res.Bytes)), how)
			return nil
		},
	}
	cmd.Flags().StringVar(&tape, "tape", "", "read from this drive, ndmp://AGENT/DRIVE (default: the drive the backup was written with)")
	cmd.Flags().StringVar(&pwFile, "password-file", "", "password of an unregistered agent (else $FERRY_NDMP_PASSWORD)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the outcome as JSON")
	changerFlags(cmd.Flags(), &co)
	waitDriveFlag(cmd.Flags(), &co)
	return cmd
}

// defaultWaitDrive is how long restore and verify wait for a drive a
// backup holds: most backups of a file server end within it.
const defaultWaitDrive = 10 * time.Minute

func waitDriveFlag(f *pflag.FlagSet, co *dma.ChangerOptions) {
	f.DurationVar(&co.WaitDrive, "wait-drive", defaultWaitDrive, "wait this long for a drive another job holds (0: fail at once)")
}

// busyNotice says once on w that the job waits for its drive.
func busyNotice(w io.Writer) func(string) {
	return func(msg string) { fmt.Fprintln(w, "ferry: "+msg) }
}
