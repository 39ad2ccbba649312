package main

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"ferry/internal/disk"
	"ferry/internal/node"
	"ferry/internal/size"
)

func newDiskCommand(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "disk",
		Short: "Manage the state directory's disks (the target's disk LUNs)",
	}
	cmd.AddCommand(newDiskCreateCommand(g), newDiskLsCommand(g), newDiskRmCommand(g), newDiskSnapshotCommand(g))
	return cmd
}

// disksDir is STATE/disks.
func disksDir(g *globalOptions) (string, error) {
	state, err := stateDir(g)
	if err != nil {
		return "", err
	}
	return node.Layout{Root: state}.Disks(), nil
}

func newDiskCreateCommand(g *globalOptions) *cobra.Command {
	var sizeText, from string
	var blockSize int
	var thick bool
	cmd := &cobra.Command{
		Use:   "create NAME --size SIZE [--from FILE]",
		Short: "Create a disk (a sparse raw image), or attach an existing image or block device",
		Long: `Create a disk in STATE/disks: NAME.img, a sparse raw image (the bytes of
block n at offset n x block size), and NAME.json, its description. SIZE is in
binary units: 256M is 256 MiB, 1G or 1 GiB is 1 GiB, 1.5GiB is 1536 MiB (K, M,
G, T, P, E, alone or followed by B or iB; a plain number is bytes), so what
disk ls prints can be given back. With --from, the disk is the given image file or block device itself,
used in place; SIZE then defaults to its size. NAME is the disk's serial number.
A running target serves the new disk without a restart.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir, err := disksDir(g)
			if err != nil {
				return err
			}
			var n int64
			if sizeText != "" || from == "" {
				if n, err = size.Parse(sizeText); err != nil {
					return err
				}
				if n == 0 {
					return fmt.Errorf("disk create: --size must be above 0 bytes")
				}
			}
			m, err := disk.Create(dir, args[0], n, disk.Options{BlockSize: blockSize, From: from, Thick: thick})
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: %s, %d blocks of %d bytes, NAA %s\n", m.Name, size.Format(m.Size), m.Blocks(), m.BlockSize, m.NAA)
			return nil
		},
	}
	cmd.Flags().StringVar(&sizeText, "size", "", "size in binary units: 256M, 1G, 10GiB, 1.5 GiB ... (required unless --from)")
	cmd.Flags().StringVar(&from, "from", "", "attach this raw image file or block device instead of creating an image")
	cmd.Flags().IntVar(&blockSize, "block-size", disk.DefaultBlockSize, "logical block size: 512 or 4096")
	cmd.Flags().BoolVar(&thick, "thick", false, "allocate every block now; no thin provisioning (UNMAP)")
	return cmd
}

func newDiskLsCommand(g *globalOptions) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "ls",
		Short: "List the disks",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir, err := disksDir(g)
			if err != nil {
				return err
			}
			disks, err := disk.List(dir)
			if asJSON {
				if disks == nil {
					disks = []disk.Meta{}
				}
				if jerr := json.NewEncoder(cmd.OutOrStdout()).Encode(disks); jerr != nil {
					return jerr
				}
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tINDEX\tSIZE\tBLOCK\tTHIN\tNAA\tIMAGE")
			for _, m := range disks {
				fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%v\t%s\t%s\n", m.Name, m.Index, size.Format(m.Size), m.BlockSize, m.Thin, m.NAA, m.ImagePath(dir))
			}
			if ferr := tw.Flush(); ferr != nil {
				return ferr
			}
			return err // sidecars that did not parse
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newDiskRmCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "rm NAME",
		Short: "Remove a disk: its image and description (an attached image or device is kept)",
		Long: `Remove a disk from STATE/disks: its description, its saved reservations and
its image. A disk attached with --from keeps its image or block device; only
ferry's description of it goes. A running target stops serving the disk.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir, err := disksDir(g)
			if err != nil {
				return err
			}
			return disk.Remove(dir, args[0])
		},
	}
}
