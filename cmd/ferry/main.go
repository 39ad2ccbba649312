// Command ferry moves data between storage without a backup server in the
// data path: it is an NDMP agent, a SAN target with a copy manager, a data
// manager and a virtual tape library in one binary.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"

	"github.com/spf13/cobra"
)

func main() {
	stopProfile := startProfile(os.Getenv("FERRY_CPUPROFILE"))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRootCommand().ExecuteContext(ctx)
	stop()
	stopProfile()
	if err != nil {
		fmt.Fprintln(os.Stderr, "ferry:", err)
		var ee exitError
		if errors.As(err, &ee) {
			os.Exit(ee.code)
		}
		os.Exit(exitFailed)
	}
}

// startProfile writes a CPU profile of the whole command to path, when
// set ($FERRY_CPUPROFILE): where the time of a command as a user runs it
// goes. The returned function ends it.
func startProfile(path string) func() {
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err == nil {
		err = pprof.StartCPUProfile(f)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "ferry: FERRY_CPUPROFILE:", err)
		return func() {}
	}
	return func() { pprof.StopCPUProfile(); f.Close() }
}

// Exit statuses, as GNU tar's: 0 the job did everything; 1 it completed
// but left something out (a file not backed up, not copied), which the
// output and `ferry log JOB` name; 2 it failed or the command was wrong.
const (
	exitWarnings = 1
	exitFailed   = 2
)

// exitError carries a specific exit status out of a command.
type exitError struct {
	code int
	err  error
}

func (e exitError) Error() string { return e.err.Error() }
func (e exitError) Unwrap() error { return e.err }

// globalOptions are the flags every command accepts.
type globalOptions struct {
	state   string
	catalog string
}

func newRootCommand() *cobra.Command {
	var g globalOptions
	root := &cobra.Command{
		Use:           "ferry",
		Short:         "Move data between storage without a backup server in the data path",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&g.state, "state", "", "state directory (default $FERRY_HOME, else ~/.local/share/ferry)")
	root.PersistentFlags().StringVar(&g.catalog, "catalog", "", "catalog: a postgres:// URL for PostgreSQL, or a SQLite file (default $FERRY_CATALOG, else STATE/catalog.db)")
	root.AddCommand(
		newServeCommand(&g),
		newTapeCommand(&g),
		newDiskCommand(&g),
		newTargetCommand(&g),
		newVersionCommand(),
		newBackupCommand(&g),
		newCancelCommand(&g),
		newCopyCommand(&g),
		newBackupsCommand(&g),
		newLsCommand(&g),
		newFindCommand(&g),
		newRestoreCommand(&g),
		newAgentCommand(&g),
		newJobsCommand(&g),
		newLogCommand(&g),
		newVerifyCommand(&g),
		newCatalogCommand(&g),
		newMediaCommand(&g), newPruneCommand(&g),
		newTokenCommand(&g),
		newPolicyCommand(&g),
		newLibraryCommand(&g),
	)
	return root
}
