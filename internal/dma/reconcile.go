package dma

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"ferry/internal/catalog"
)

// Owner names this process for the jobs it runs: "HOST BOOT_ID PID START".
// The boot id and the start time (clock ticks since boot) tell a process
// that is gone from another that later took its pid.
var Owner = sync.OnceValue(func() string {
	o, _ := processOwner(os.Getpid())
	return o
})

func processOwner(pid int) (string, bool) {
	host, _ := os.Hostname()
	boot, _ := os.ReadFile("/proc/sys/kernel/random/boot_id")
	start, ok := processStart(pid)
	if !ok || len(boot) == 0 {
		return "", false
	}
	return fmt.Sprintf("%s %s %d %d", host, bytes.TrimSpace(boot), pid, start), true
}

// processStart reads a process's start time from /proc/PID/stat (field
// 22, after the parenthesised command name, which may hold spaces).
func processStart(pid int) (uint64, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return 0, false
	}
	n, err := strconv.ParseUint(f[19], 10, 64)
	return n, err == nil
}

// ownerGone reports whether the process a job's owner names has ended: it
// ran on this machine, and since then the machine rebooted or no process
// with its pid and start time is left. A job of another machine, or of a
// ferry that recorded no owner, cannot be told and is not gone.
func ownerGone(owner string) bool {
	f := strings.Fields(owner)
	if len(f) != 4 {
		return false
	}
	host, _ := os.Hostname()
	if f[0] != host {
		return false
	}
	boot, _ := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if string(bytes.TrimSpace(boot)) != f[1] {
		return true
	}
	pid, err := strconv.Atoi(f[2])
	if err != nil {
		return false
	}
	now, ok := processOwner(pid)
	return !ok || now != owner
}

// TapeCheck reads the cartridge a backup job of a process that is gone was
// writing, recording in the catalog what the tape holds of the backup (a
// catalog rebuild of that cartridge does).
type TapeCheck func(ctx context.Context, j catalog.Job, b catalog.Backup) error

// Reconcile ends the jobs whose process is gone (killed, or the machine
// rebooted) so none stays running forever. A backup job's image is judged
// by the tape (check): complete, with its trailer, it becomes succeeded and
// can be restored and based on; otherwise it is failed. Other jobs are
// failed. It returns the jobs it ended.
func Reconcile(ctx context.Context, cat catalog.Catalog, check TapeCheck) ([]catalog.Job, error) {
	js, err := cat.Jobs(ctx, true)
	if err != nil {
		return nil, fmt.Errorf("dma: catalog: %w", err)
	}
	var done []catalog.Job
	var errs []error
	for _, j := range js {
		if !ownerGone(j.Owner) {
			continue
		}
		if err := reconcileJob(ctx, cat, &j, check); err != nil {
			errs = append(errs, fmt.Errorf("job %d: %w", j.ID, err))
			continue
		}
		done = append(done, j)
	}
	return done, errors.Join(errs...)
}

func reconcileJob(ctx context.Context, cat catalog.Catalog, j *catalog.Job, check TapeCheck) error {
	gone := fmt.Sprintf("the process running it (pid %d) is gone", j.PID)
	j.State, j.Error, j.Ended = catalog.JobFailed, gone, time.Now().UTC()
	if j.Kind == "backup" && j.BackupID != 0 {
		b, err := cat.Backup(ctx, j.BackupID)
		if err != nil {
			return fmt.Errorf("dma: catalog: %w", err)
		}
		if b.Status == catalog.StatusRunning {
			why := "no trailer on tape: the image is incomplete"
			if check != nil {
				if err := check(ctx, *j, b); err != nil {
					why = "its tape could not be read (" + err.Error() + "); ferry catalog rebuild reads it again"
				}
			}
			if b, err = cat.Backup(ctx, j.BackupID); err != nil {
				return fmt.Errorf("dma: catalog: %w", err)
			}
			if b.Status == catalog.StatusRunning {
				err := cat.FinishBackup(ctx, b.ID, catalog.BackupResult{Status: catalog.StatusFailed, Ended: j.Ended,
					Error: gone + "; " + why})
				if err != nil {
					return fmt.Errorf("dma: catalog: %w", err)
				}
				j.Error = gone + "; " + why
			}
		}
		if b.Completed() {
			j.State, j.Error = catalog.JobSucceeded, ""
			cat.Log(ctx, j.ID, "info", gone+"; its image on tape is complete and was recorded from the tape")
			return cat.UpdateJob(ctx, *j)
		}
	}
	cat.Log(ctx, j.ID, "error", j.Error)
	return cat.UpdateJob(ctx, *j)
}
