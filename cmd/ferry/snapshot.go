package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"ferry/internal/disk"
	"ferry/internal/node"
	"ferry/internal/size"
)

// snapshotWait bounds the wait for a running target to answer.
const snapshotWait = 30 * time.Second

// newDiskSnapshotCommand is `ferry disk snapshot`: take, list, renew and
// release a disk's snapshots, and list the blocks changed since one. A
// running target that serves the disk does the work (it holds the
// snapshots); otherwise this process does.
func newDiskSnapshotCommand(g *globalOptions) *cobra.Command {
	var o snapshotCreateOptions
	cmd := &cobra.Command{
		Use:   "snapshot NAME [--name SNAP] [--cow-limit SIZE] [--lease DURATION]",
		Short: "Take a point-in-time snapshot of a disk (also: ls, renew, rm, changes)",
		Long: `Take a copy-on-write snapshot of a disk: the target serves it as a read-only
LU with its own NAA designator, while hosts keep writing the disk. Before a
block is first overwritten its old contents go to the snapshot's copy-on-write
area; when that area passes --cow-limit (default 10% of the disk) the snapshot
becomes invalid, never the host's writes. A snapshot is a lease: it is
released when --lease passes unless renewed (ferry disk snapshot renew).
Releasing a snapshot frees its data and keeps its change map, so
'ferry disk snapshot changes' lists the blocks written since it.
(A disk named ls, renew, rm or changes: use 'snapshot create'.)`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return o.run(cmd, g, args[0]) },
	}
	o.flags(cmd)
	var c snapshotCreateOptions
	create := &cobra.Command{
		Use:   "create NAME [--name SNAP] [--cow-limit SIZE] [--lease DURATION]",
		Short: "Take a snapshot of a disk",
		Args:  cobra.ExactArgs(1),
		RunE:  func(cmd *cobra.Command, args []string) error { return c.run(cmd, g, args[0]) },
	}
	c.flags(create)
	cmd.AddCommand(create, newSnapshotLsCommand(g), newSnapshotRenewCommand(g), newSnapshotRmCommand(g), newSnapshotChangesCommand(g))
	return cmd
}

type snapshotCreateOptions struct {
	name, cowLimit string
	lease          time.Duration
}

func (o *snapshotCreateOptions) flags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&o.name, "name", "", "the snapshot's name (default sN, N its sequence number)")
	cmd.Flags().StringVar(&o.cowLimit, "cow-limit", "", "copy-on-write area limit: 256M, 1G ... (default 10% of the disk)")
	cmd.Flags().DurationVar(&o.lease, "lease", disk.DefaultLease, "release the snapshot this long after taking it unless renewed")
}

func (o *snapshotCreateOptions) run(cmd *cobra.Command, g *globalOptions, name string) error {
	req := disk.SnapshotRequest{Op: "create", Snapshot: o.name, Lease: o.lease}
	if o.cowLimit != "" {
		n, err := size.Parse(o.cowLimit)
		if err != nil {
			return err
		}
		if n <= 0 {
			return fmt.Errorf("disk snapshot: --cow-limit must be above 0 bytes")
		}
		req.CowLimit = n
	}
	if o.lease <= 0 {
		return fmt.Errorf("disk snapshot: --lease must be above 0")
	}
	r, err := askSnapshot(cmd.Context(), g, name, req)
	if err != nil {
		return err
	}
	s := r.Snapshots[0]
	fmt.Fprintf(cmd.OutOrStdout(), "%s: snapshot %s taken %s, lease until %s, copy-on-write limit %s\n",
		name, s.Name, s.Created.Format(time.RFC3339), s.Expires.Format(time.RFC3339), size.Format(uint64(s.CowLimit)))
	return nil
}

// askSnapshot runs a snapshot request on STATE/disks/NAME.
func askSnapshot(ctx context.Context, g *globalOptions, name string, req disk.SnapshotRequest) (disk.SnapshotReply, error) {
	dir, err := disksDir(g)
	if err != nil {
		return disk.SnapshotReply{}, err
	}
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithTimeout(ctx, snapshotWait)
	defer cancel()
	return disk.Ask(ctx, dir, name, req)
}

func newSnapshotLsCommand(g *globalOptions) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "ls NAME",
		Short: "List a disk's snapshots and the LUs of the live ones",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := askSnapshot(cmd.Context(), g, args[0], disk.SnapshotRequest{Op: "list"})
			if err != nil {
				return err
			}
			out := withLUs(g, r.Snapshots)
			if asJSON {
				return json.NewEncoder(cmd.OutOrStdout()).Encode(out)
			}
			return printSnapshots(cmd.OutOrStdout(), out)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// withLUs adds the LUs the target state keeps for the live snapshots.
func withLUs(g *globalOptions, snaps []disk.Snapshot) []node.SnapshotInfo {
	out := make([]node.SnapshotInfo, 0, len(snaps))
	var lus map[string]node.SnapshotLU
	if state, err := stateDir(g); err == nil {
		if st, err := node.LoadTargetState(node.Layout{Root: state}); err == nil {
			lus = st.SnapshotLUs
		}
	}
	for _, s := range snaps {
		info := node.SnapshotInfo{Snapshot: s}
		if lu, ok := lus[s.ID]; ok && s.State == disk.SnapshotActive {
			info.LU = &lu
		}
		out = append(out, info)
	}
	return out
}

func printSnapshots(w io.Writer, snaps []node.SnapshotInfo) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSEQ\tSTATE\tCREATED\tEXPIRES\tCOW USED\tCOW LIMIT\tLUN\tNAA\tREASON")
	for _, s := range snaps {
		lun, naa := "-", "-"
		if s.LU != nil {
			lun, naa = fmt.Sprint(s.LU.LUN), s.LU.NAA
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.Name, s.Seq, s.State, s.Created.Format(time.RFC3339),
			s.Expires.Format(time.RFC3339), size.Format(uint64(s.CowUsed)), size.Format(uint64(s.CowLimit)), lun, naa, s.Reason)
	}
	return tw.Flush()
}

func newSnapshotRenewCommand(g *globalOptions) *cobra.Command {
	var lease time.Duration
	cmd := &cobra.Command{
		Use:   "renew NAME SNAP [--lease DURATION]",
		Short: "Extend a snapshot's lease",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := askSnapshot(cmd.Context(), g, args[0], disk.SnapshotRequest{Op: "renew", Snapshot: args[1], Lease: lease})
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: snapshot %s lease until %s\n", args[0], args[1], r.Snapshots[0].Expires.Format(time.RFC3339))
			return nil
		},
	}
	cmd.Flags().DurationVar(&lease, "lease", disk.DefaultLease, "the new lease, from now")
	return cmd
}

func newSnapshotRmCommand(g *globalOptions) *cobra.Command {
	var forget bool
	cmd := &cobra.Command{
		Use:   "rm NAME SNAP [--forget]",
		Short: "Release a snapshot: its data goes, its change map stays (--forget: that too)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			op := "release"
			if forget {
				op = "forget"
			}
			_, err := askSnapshot(cmd.Context(), g, args[0], disk.SnapshotRequest{Op: op, Snapshot: args[1]})
			return err
		},
	}
	cmd.Flags().BoolVar(&forget, "forget", false, "also delete the record and change map (its changes join the previous snapshot's)")
	return cmd
}

func newSnapshotChangesCommand(g *globalOptions) *cobra.Command {
	var to string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "changes NAME SNAP [--to SNAP2]",
		Short: "List the blocks written since a snapshot (until SNAP2, or now) as extents",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := askSnapshot(cmd.Context(), g, args[0], disk.SnapshotRequest{Op: "changed", Snapshot: args[1], To: to})
			if err != nil {
				return err
			}
			if asJSON {
				if r.Changed == nil {
					r.Changed = []disk.Extent{}
				}
				return json.NewEncoder(cmd.OutOrStdout()).Encode(r.Changed)
			}
			var blocks uint64
			for _, e := range r.Changed {
				fmt.Fprintf(cmd.OutOrStdout(), "%d\t%d\n", e.LBA, e.Blocks)
				blocks += e.Blocks
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "%d extents, %d blocks\n", len(r.Changed), blocks)
			return nil
		},
	}
	cmd.Flags().StringVar(&to, "to", "", "up to this later snapshot (default: now)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON: [{\"lba\":N,\"blocks\":N}, ...]")
	return cmd
}
