package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"ferry/internal/catalog"
	"ferry/internal/dma"
	"ferry/internal/size"
)

type copyOptions struct {
	level       int
	incremental bool
	listen      string
	exclude     []string
	overwrite   bool
	pwFile      string
	dstPwFile   string
	asJSON      bool
}

func newCopyCommand(g *globalOptions) *cobra.Command {
	var o copyOptions
	cmd := &cobra.Command{
		Use:   "copy SRC DST [--level N | --incremental]",
		Short: "Copy a directory from one agent to another, data service to data service, with no tape",
		Long: `Copy SRC to DST: the source agent's data service backs SRC up straight into
the destination agent's data service, which recreates it under DST (NDMP
data-to-data, "ndmpcopy"). SRC and DST are ndmp://AGENT/PATH (a registered
agent or USER@HOST:PORT) or directories on this machine (ferry's in-process
agent). For a migration: copy in full while the source is in use, repeat with
--incremental to catch up (each copies what changed since the last, and
removes at DST what was deleted or renamed at SRC), then stop the writers and
run a last --incremental. --level N bases a copy on the newest copy of the same
SRC and DST below level N. The copies are jobs in the catalog (ferry jobs).`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runCopy(cmd.Context(), g, args[0], args[1], o, cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.level, "level", 0, "copy what changed since the newest copy below this level")
	f.BoolVar(&o.incremental, "incremental", false, "copy what changed since the newest copy of SRC to DST")
	f.StringVar(&o.listen, "listen", "dst", "which data service listens for the other's connection: dst or src")
	f.StringSliceVar(&o.exclude, "exclude", nil, "leave out names matching this pattern (repeatable)")
	f.BoolVar(&o.overwrite, "overwrite", false, "replace files already at DST on a full copy")
	f.StringVar(&o.pwFile, "password-file", "", "password of an unregistered source agent (else $FERRY_NDMP_PASSWORD)")
	f.StringVar(&o.dstPwFile, "dst-password-file", "", "password of an unregistered destination agent (default: as the source's)")
	f.BoolVar(&o.asJSON, "json", false, "print the copy as JSON")
	return cmd
}

func runCopy(ctx context.Context, g *globalOptions, src, dst string, o copyOptions, out io.Writer) error {
	if o.listen != "dst" && o.listen != "src" {
		return errors.New("--listen takes dst or src")
	}
	r := dma.CopyRequest{Src: src, Dst: dst, Level: o.level, Incremental: o.incremental, ListenSrc: o.listen == "src",
		Exclude: o.exclude, Overwrite: o.overwrite}
	var err error
	if r.SrcPassword, err = optionalPassword(o.pwFile); err != nil {
		return err
	}
	if r.DstPassword, err = optionalPassword(o.dstPwFile); err != nil {
		return err
	}
	return withManager(ctx, g, func(m *dma.Manager) error {
		progress, stopProgress := progressLine(o.asJSON)
		r.Progress = progress
		res, err := m.Copy(ctx, r)
		stopProgress()
		if o.asJSON {
			type copyOut struct {
				dma.CopyResult
				Error string `json:"error,omitempty"`
			}
			c := copyOut{CopyResult: res}
			if err != nil {
				c.Error = err.Error()
			}
			if jerr := json.NewEncoder(out).Encode(c); jerr != nil {
				return jerr
			}
		} else if err == nil {
			fmt.Fprintf(out, "copied %s to %s: level %d, %s in %.1fs (job %d)\n", res.Src, res.Dst, res.Level,
				size.Format(uint64(res.Bytes)), res.Seconds, res.JobID)
		}
		if err == nil && res.State == catalog.JobWarnings {
			return warningsExit(os.Stderr, "copy of "+src+" to "+dst, res.JobID, m.Problems(ctx, res.JobID))
		}
		return err
	})
}
