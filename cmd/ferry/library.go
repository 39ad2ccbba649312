package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"ferry/internal/library"
	"ferry/internal/node"
)

func newLibraryCommand(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "library",
		Short: "Set up the state directory's tape library",
	}
	cmd.AddCommand(newLibraryCreateCommand(g))
	return cmd
}

func newLibraryCreateCommand(g *globalOptions) *cobra.Command {
	var sc library.StoreConfig
	def := library.DefaultOptions()
	drives, slots, mail := len(def.Drives), def.Slots+len(def.Drives), def.ImportExport
	cmd := &cobra.Command{
		Use:   "create [--drives N --slots M --mail-slots K] [--store s3://BUCKET/PREFIX [--endpoint URL] [--credentials-file FILE]]",
		Short: "Create the state directory's tape library",
		Long: `Create the state directory's tape library: N drives (tape0 ...), M slots
(at least N) each with a blank 100 GiB cartridge (FRY001L8 ...), the
drives loaded from the last N slots, and K empty mail slots. The default is 4 drives, 24 slots,
2 mail slots, the library ferry makes on first use.

The cartridges are files in STATE/library/tapes, or with --store in an S3
bucket under a prefix: every ferry process on this state directory (ferry
serve, backup, restore, tape) then uses them; STATE/library/store.json
names the bucket, endpoint and credentials file. The credentials come from
--credentials-file (mode 0600: access_key_id = ..., secret_access_key =
...) or else from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in each
process's environment; they are never stored in store.json nor taken on
the command line.
A state directory that already has a library keeps it (an error).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			state, err := stateDir(g)
			if err != nil {
				return err
			}
			if drives < 0 || slots < drives {
				return fmt.Errorf("--drives %d --slots %d: a library has a slot for each drive's cartridge", drives, slots)
			}
			o := def
			// Options.Slots counts the slots besides the drives' own.
			o.Drives, o.Slots, o.ImportExport = library.NumberedDrives(drives), slots-drives, mail
			dir := node.Layout{Root: state}.Library()
			var lib *library.Library
			where := dir + "/tapes"
			if sc.URL != "" {
				lib, err = library.CreateInStore(dir, sc, o)
				where = sc.URL
			} else {
				lib, err = library.Create(dir, o)
			}
			if err != nil {
				return err
			}
			defer lib.Close()
			fmt.Fprintf(cmd.OutOrStdout(), "library created: %d drives, %d slots, %d mail slots; cartridges in %s\n", drives, slots, mail, where)
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&drives, "drives", drives, "number of tape drives")
	f.IntVar(&slots, "slots", slots, "number of storage slots, each with a blank cartridge")
	f.IntVar(&mail, "mail-slots", mail, "number of import/export (mail) slots")
	f.StringVar(&sc.URL, "store", "", "where the cartridges live: s3://BUCKET/PREFIX (default: files in the state directory)")
	f.StringVar(&sc.Endpoint, "endpoint", "", "S3 server URL, e.g. http://127.0.0.1:7070 (default AWS; addressed path-style)")
	f.StringVar(&sc.Region, "region", "", "S3 region (default us-east-1)")
	f.StringVar(&sc.CredentialsFile, "credentials-file", "", "file (mode 0600) with access_key_id and secret_access_key (default: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)")
	return cmd
}
