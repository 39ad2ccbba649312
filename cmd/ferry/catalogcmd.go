package main

import (
	"context"
	"encoding/json"
	"errors"

	"ferry/internal/node"

	"fmt"
	"path"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"ferry/internal/catalog"
	"ferry/internal/dma"
	"ferry/internal/size"
	"ferry/internal/view"
)

func newBackupsCommand(g *globalOptions) *cobra.Command {
	var asJSON bool
	var agent, status string
	cmd := &cobra.Command{
		Use:   "backups",
		Short: "List the catalog's backups, oldest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withCatalog(cmd.Context(), g, func(cat catalog.Catalog) error {
				bs, err := cat.Backups(cmd.Context(), catalog.BackupFilter{Agent: agent, Status: status})
				if err != nil {
					return err
				}
				if asJSON {
					out := make([]view.Backup, 0, len(bs))
					for _, b := range bs {
						if full, err := cat.Backup(cmd.Context(), b.ID); err == nil {
							b = full
						}
						out = append(out, view.BackupOf(b))
					}
					return json.NewEncoder(cmd.OutOrStdout()).Encode(out)
				}
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tSTARTED\tAGENT\tPATH\tLEVEL\tBASE\tSTATUS\tFILES\tSIZE")
				for _, b := range bs {
					base := "-"
					if b.BaseID != 0 {
						base = strconv.FormatInt(b.BaseID, 10)
					}
					fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%s\t%s\t%d\t%s\n", b.ID, b.Started.Local().Format(time.DateTime),
						b.Agent, b.Path, b.Level, base, b.Status, b.Files, size.Format(uint64(b.Bytes)))
				}
				return tw.Flush()
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON (each backup has an id)")
	cmd.Flags().StringVar(&agent, "agent", "", "only backups of this agent")
	cmd.Flags().StringVar(&status, "status", "", "only backups with this status (succeeded, failed, running, cancelled)")
	return cmd
}

func newLsCommand(g *globalOptions) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "ls BACKUP [PATH]",
		Short: "List a directory of a backup (PATH relative to the backed-up directory)",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := backupID(args[0])
			if err != nil {
				return err
			}
			dir := "/"
			if len(args) == 2 {
				dir = path.Clean("/" + args[1])
			}
			return withCatalog(cmd.Context(), g, func(cat catalog.Catalog) error {
				if _, err := cat.Backup(cmd.Context(), id); err != nil {
					return noBackup(id, err)
				}
				fs, err := cat.List(cmd.Context(), id, dir)
				if err != nil {
					return err
				}
				if asJSON {
					out := make([]view.File, 0, len(fs))
					for _, f := range fs {
						out = append(out, view.FileOf(id, f))
					}
					return json.NewEncoder(cmd.OutOrStdout()).Encode(out)
				}
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				for _, f := range fs {
					_, name := catalog.SplitPath(f.Path)
					if f.Type == catalog.TypeDir {
						name += "/"
					}
					fmt.Fprintf(tw, "%s\t%d\t%s\t%s\n", typeMode(f), f.Size, f.Mtime.Local().Format(time.DateTime), name)
				}
				return tw.Flush()
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newFindCommand(g *globalOptions) *cobra.Command {
	var asJSON, regex bool
	var limit int
	var backup int64
	cmd := &cobra.Command{
		Use:   "find PATTERN",
		Short: "Find files across all backups: a shell glob over full paths (--regex: a regular expression)",
		Long: `Find files across all backups. PATTERN is a shell glob over each file's full
path within its backup ("/" is the backed-up directory): * matches across
slashes, so "*.conf" finds every .conf file. With --regex, PATTERN is a Go
regular expression matched anywhere in the path.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			q := catalog.Query{Glob: args[0], BackupID: backup, Limit: limit}
			if regex {
				q = catalog.Query{Regex: args[0], BackupID: backup, Limit: limit}
			}
			return withCatalog(cmd.Context(), g, func(cat catalog.Catalog) error {
				ms, err := cat.Find(cmd.Context(), q)
				if errors.Is(err, catalog.ErrBadQuery) {
					return fmt.Errorf("%w (a glob uses * ? [a-z] and \\ to quote; --regex takes Go regular expressions)", err)
				}
				if err != nil {
					return err
				}
				if asJSON {
					out := make([]view.File, 0, len(ms))
					for _, m := range ms {
						out = append(out, view.FileOf(m.BackupID, m.File))
					}
					return json.NewEncoder(cmd.OutOrStdout()).Encode(out)
				}
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				for _, m := range ms {
					fmt.Fprintf(tw, "%d\t%s\t%d\t%s\t%s\n", m.BackupID, typeMode(m.File), m.Size, m.Mtime.Local().Format(time.DateTime), m.Path)
				}
				return tw.Flush()
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.Flags().BoolVar(&regex, "regex", false, "PATTERN is a regular expression")
	cmd.Flags().IntVar(&limit, "limit", 0, "at most this many matches (default 10000)")
	cmd.Flags().Int64Var(&backup, "backup", 0, "search only this backup")
	return cmd
}

// withCatalog opens the state directory's catalog for fn.
func withCatalog(ctx context.Context, g *globalOptions, fn func(catalog.Catalog) error) error {
	state, err := stateDir(g)
	if err != nil {
		return err
	}
	cat, err := openCatalog(ctx, g, state)
	if err != nil {
		return err
	}
	defer cat.Close()
	return fn(cat)
}

func backupID(s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("backup %q: give a backup id (ferry backups lists them)", s)
	}
	return id, nil
}

func noBackup(id int64, err error) error {
	if errors.Is(err, catalog.ErrNotFound) {
		return fmt.Errorf("no backup %d in the catalog (ferry backups lists them)", id)
	}
	return err
}

// typeMode renders a type letter and permission bits as ls does.
func typeMode(f catalog.File) string {
	c := map[catalog.FileType]byte{catalog.TypeDir: 'd', catalog.TypeSymlink: 'l', catalog.TypeFIFO: 'p',
		catalog.TypeCharDev: 'c', catalog.TypeBlkDev: 'b', catalog.TypeSocket: 's', catalog.TypeReg: '-'}[f.Type]
	if c == 0 {
		c = '?'
	}
	b := []byte{c}
	const rwx = "rwxrwxrwx"
	for i := range 9 {
		if f.Mode&(1<<(8-i)) != 0 {
			b = append(b, rwx[i])
		} else {
			b = append(b, '-')
		}
	}
	return string(b)
}

func newJobsCommand(g *globalOptions) *cobra.Command {
	var asJSON, active bool
	cmd := &cobra.Command{
		Use:   "jobs",
		Short: "List the data manager's jobs, oldest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withCatalog(cmd.Context(), g, func(cat catalog.Catalog) error {
				js, err := cat.Jobs(cmd.Context(), active)
				if err != nil {
					return err
				}
				if asJSON {
					out := make([]view.Job, 0, len(js))
					for _, j := range js {
						out = append(out, view.JobOf(j))
					}
					return json.NewEncoder(cmd.OutOrStdout()).Encode(out)
				}
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tKIND\tSTATE\tSTARTED\tBACKUP\tERROR")
				for _, j := range js {
					fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%s\n", j.ID, j.Kind, j.State, j.Started.Local().Format(time.DateTime), j.BackupID, j.Error)
				}
				return tw.Flush()
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.Flags().BoolVar(&active, "active", false, "only jobs that have not ended")
	return cmd
}

func newCatalogCommand(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "catalog",
		Short: "Read what cartridges hold from ferry's image headers: scan one, or rebuild the catalog",
	}
	cmd.AddCommand(newCatalogScanCommand(g), newCatalogRebuildCommand(g))
	return cmd
}

func newCatalogScanCommand(g *globalOptions) *cobra.Command {
	var tape, drive, pwFile string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "scan [--drive NAME | --tape ndmp://AGENT/DRIVE]",
		Short: "List the backup images on a cartridge from the headers ferry writes before each",
		Long: `List the tape files of the cartridge in a drive of the state directory's
library (--drive, through ferry's in-process agent) or of an agent
(--tape ndmp://AGENT/DRIVE), with the backup each ferry image header
describes. Nothing is written.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			state, err := stateDir(g)
			if err != nil {
				return err
			}
			pw, err := optionalPassword(pwFile)
			if err != nil {
				return err
			}
			var cat catalog.Catalog // only an agent's name needs it
			if tape != "" {
				// scanning helps recover a lost catalog: open it as a rebuild does
				if cat, err = dma.OpenCatalog(ctx, catalogSpec(g, state), node.Layout{Root: state}, true); err != nil {
					return err
				}
				defer cat.Close()
			}
			// Past damage the scan may stop early: what it found is
			// printed, then the error.
			files, serr := dma.NewManager(cat, managerConfig(g, state)).Scan(ctx, tape, drive, pw)
			if serr != nil && len(files) == 0 {
				return serr
			}
			if asJSON {
				out := make([]view.TapeFile, 0, len(files))
				for _, f := range files {
					out = append(out, view.TapeFile{File: f.File, Header: f.Header, Trailer: f.Trailer, Damage: f.Damage})
				}
				if err := json.NewEncoder(cmd.OutOrStdout()).Encode(out); err != nil {
					return err
				}
				return serr
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "FILE\tBACKUP\tLEVEL\tBASE\tSTARTED\tAGENT\tPATH")
			for _, f := range files {
				if h := f.Header; h != nil {
					fmt.Fprintf(tw, "%d\theader of %d (image in file %d)\t%d\t%d\t%s\t%s\t%s\n", f.File, h.BackupID, h.ImageFile,
						h.Level, h.BaseID, h.Started.Local().Format(time.DateTime), h.Agent, h.Path)
				} else if tr := f.Trailer; tr != nil {
					fmt.Fprintf(tw, "%d\ttrailer of %d (%s)\t\t\t%s\t\t\n", f.File, tr.BackupID, size.Format(uint64(tr.Bytes)),
						tr.Ended.Local().Format(time.DateTime))
				} else if f.Damage != "" {
					fmt.Fprintf(tw, "%d\tDAMAGED: %s\t\t\t\t\t\n", f.File, f.Damage)
				} else {
					fmt.Fprintf(tw, "%d\t-\t\t\t\t\t\n", f.File)
				}
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			return serr
		},
	}
	cmd.Flags().StringVar(&drive, "drive", "tape0", "drive of the state directory's library")
	cmd.Flags().StringVar(&tape, "tape", "", "drive of an agent, ndmp://AGENT/DRIVE")
	cmd.Flags().StringVar(&pwFile, "password-file", "", "password of an unregistered agent (else $FERRY_NDMP_PASSWORD)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
