package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"ferry/internal/dma"
	"ferry/internal/size"
	"ferry/internal/view"
)

type restoreOptions struct {
	serverless bool
	to         string
	tape       string
	pwFile     string
	overwrite  bool
	keepDmg    bool
	asJSON     bool
	changer    dma.ChangerOptions
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
			if o.serverless {
				id, err := backupID(args[0])
				if err != nil {
					return err
				}
				return runServerlessRestore(cmd.Context(), g, id, o.to, o.tape, o.asJSON, cmd.OutOrStdout())
			}
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
	f.BoolVar(&o.serverless, "serverless", false, "write an image backup back onto the disk LU --to iscsi://HOST:PORT/IQN/LUN by EXTENDED COPY")
	cmd.MarkFlagRequired("to")
	return cmd
}

func runRestore(ctx context.Context, g *globalOptions, arg string, paths []string, o restoreOptions, out io.Writer) error {
	id, err := backupID(arg)
	if err != nil {
		return err
	}
	return withManager(ctx, g, func(m *dma.Manager) error {
		r := dma.RestoreRequest{BackupID: id, To: o.to, Paths: paths, Tape: o.tape, Overwrite: o.overwrite,
			KeepDamaged: o.keepDmg, Changer: o.changer}
		var err error
		if r.Password, err = optionalPassword(o.pwFile); err != nil {
			return err
		}
		progress, stopProgress := progressLine(o.asJSON)
		r.Progress = progress
		res, err := m.Restore(ctx, r)
		stopProgress()
		if o.asJSON && res.Backup != 0 { // a backup the catalog has: its outcome, failed or not
			if jerr := json.NewEncoder(out).Encode(res); jerr != nil {
				return jerr
			}
			return err
		}
		if err != nil {
			return err
		}
		if strings.HasPrefix(o.to, "ndmp://") {
			fmt.Fprintf(out, "restored backup %d (chain %v) onto %s, %s read from tape\n", id, res.Chain, o.to, size.Format(uint64(res.Read)))
			return nil
		}
		fmt.Fprintf(out, "restored backup %d (chain %v) into %s: %d entries, %s; %d removed\n",
			id, res.Chain, res.To, res.Restored, size.Format(uint64(res.Bytes)), res.Removed)
		return nil
	})
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
			pw, err := optionalPassword(pwFile)
			if err != nil {
				return err
			}
			co.DriveBusy = busyNotice(cmd.ErrOrStderr())
			return withManager(cmd.Context(), g, func(m *dma.Manager) error {
				res, err := m.Verify(cmd.Context(), dma.VerifyRequest{BackupID: id, Tape: tape, Password: pw, Changer: co})
				if asJSON {
					doc := view.Verify{Backup: id, Entries: res.Entries, Bytes: res.Bytes, Read: res.Read, Differences: res.Differ,
						Mismatches: res.Mismatches, Checksummed: res.Checksummed, OK: err == nil}
					if err != nil {
						doc.Error = err.Error()
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
			})
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
