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
	cmd := &cobra.Command{
		Use:   "create --store s3://BUCKET/PREFIX [--endpoint URL] [--credentials-file FILE]",
		Short: "Create the tape library with its cartridges in S3",
		Long: `Create the state directory's tape library (the default layout: 4 drives,
20 slots, 2 mail slots, 100 GiB cartridges) with its cartridges in an S3
bucket under a prefix, instead of files in STATE/library/tapes. Every ferry
process on this state directory (ferry serve, backup, restore, tape) then
uses them: STATE/library/store.json names the bucket, endpoint and
credentials file. The credentials come from --credentials-file (mode 0600:
access_key_id = ..., secret_access_key = ...) or else from
AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in each process's environment;
they are never stored in store.json nor taken on the command line.
A state directory that already has a library keeps it (an error).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			state, err := stateDir(g)
			if err != nil {
				return err
			}
			lib, err := library.CreateInStore(node.Layout{Root: state}.Library(), sc, library.DefaultOptions())
			if err != nil {
				return err
			}
			defer lib.Close()
			fmt.Fprintf(cmd.OutOrStdout(), "library created: cartridges in %s\n", sc.URL)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&sc.URL, "store", "", "where the cartridges live: s3://BUCKET/PREFIX")
	f.StringVar(&sc.Endpoint, "endpoint", "", "S3 server URL, e.g. http://127.0.0.1:7070 (default AWS; addressed path-style)")
	f.StringVar(&sc.Region, "region", "", "S3 region (default us-east-1)")
	f.StringVar(&sc.CredentialsFile, "credentials-file", "", "file (mode 0600) with access_key_id and secret_access_key (default: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)")
	cmd.MarkFlagRequired("store")
	return cmd
}
