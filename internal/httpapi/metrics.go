package httpapi

import (
	"context"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"ferry/internal/catalog"
	"ferry/internal/changer"
)

// collector gathers ferry's figures from the catalog and the library at
// scrape time, so they are right whichever process (serve, the CLI) did
// the work. docs/http-api.md lists the metrics.
type collector struct {
	cfg Config
	run *runner // the API's running jobs (nil: none)
}

var (
	jobsDesc = prometheus.NewDesc("ferry_jobs", "Jobs in the catalog, by kind and state.",
		[]string{"kind", "state"}, nil)
	jobBytesDesc = prometheus.NewDesc("ferry_job_bytes_total", "Bytes of the backup images written by jobs, by job kind.",
		[]string{"kind"}, nil)
	jobFilesDesc = prometheus.NewDesc("ferry_job_files_total", "Files in the backup images written by jobs, by job kind.",
		[]string{"kind"}, nil)
	lastSuccessDesc = prometheus.NewDesc("ferry_backup_last_success_timestamp_seconds",
		"When the last backup of a source that completed (with or without warnings) ended; the source is AGENT:PATH.",
		[]string{"source"}, nil)
	cartridgesDesc = prometheus.NewDesc("ferry_cartridges", "Cartridges the catalog knows, by state.",
		[]string{"state"}, nil)
	driveLoadedDesc = prometheus.NewDesc("ferry_drive_loaded", "1 when the drive holds a cartridge, else 0.",
		[]string{"library", "drive"}, nil)
	runningBytesDesc = prometheus.NewDesc("ferry_job_running_bytes", "Bytes a job this node runs has moved so far (jobs started over the API, while they run).",
		[]string{"job", "kind"}, nil)
	runningFilesDesc = prometheus.NewDesc("ferry_job_running_files", "Files a job this node runs has catalogued or restored so far (jobs started over the API, while they run).",
		[]string{"job", "kind"}, nil)
)

// mediaStates are every cartridge state, so each has a series (0 too).
var mediaStates = []catalog.MediaState{catalog.MediaScratch, catalog.MediaAppend, catalog.MediaFull,
	catalog.MediaFrozen, catalog.MediaRetired, catalog.MediaError}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{jobsDesc, jobBytesDesc, jobFilesDesc, lastSuccessDesc, cartridgesDesc, driveLoadedDesc,
		runningBytesDesc, runningFilesDesc} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := c.collectCatalog(ctx, ch); err != nil {
		ch <- prometheus.NewInvalidMetric(jobsDesc, err)
	}
	if err := c.collectDrives(ch); err != nil {
		ch <- prometheus.NewInvalidMetric(driveLoadedDesc, err)
	}
	for _, r := range c.run.progress() {
		id := strconv.FormatInt(r.id, 10)
		ch <- prometheus.MustNewConstMetric(runningBytesDesc, prometheus.GaugeValue, float64(r.p.Bytes), id, r.kind)
		ch <- prometheus.MustNewConstMetric(runningFilesDesc, prometheus.GaugeValue, float64(r.p.Files), id, r.kind)
	}
}

func (c *collector) collectCatalog(ctx context.Context, ch chan<- prometheus.Metric) error {
	cat := c.cfg.Catalog
	jobs, err := cat.Jobs(ctx, false)
	if err != nil {
		return err
	}
	type kindState struct{ kind, state string }
	byState := map[kindState]int{}
	kindOf := map[int64]string{}
	for _, j := range jobs {
		byState[kindState{j.Kind, j.State}]++
		kindOf[j.ID] = j.Kind
	}
	for ks, n := range byState {
		ch <- prometheus.MustNewConstMetric(jobsDesc, prometheus.GaugeValue, float64(n), ks.kind, ks.state)
	}
	backups, err := cat.Backups(ctx, catalog.BackupFilter{})
	if err != nil {
		return err
	}
	bytes, files := map[string]float64{}, map[string]float64{}
	last := map[string]time.Time{}
	for _, b := range backups {
		kind := kindOf[b.JobID]
		if kind == "" {
			kind = "backup" // a backup whose job is gone, or a rebuilt one
		}
		bytes[kind] += float64(b.Bytes)
		files[kind] += float64(b.Files)
		if b.Completed() {
			src := b.Agent + ":" + b.Path
			if b.Ended.After(last[src]) {
				last[src] = b.Ended
			}
		}
	}
	for kind, n := range bytes {
		ch <- prometheus.MustNewConstMetric(jobBytesDesc, prometheus.CounterValue, n, kind)
		ch <- prometheus.MustNewConstMetric(jobFilesDesc, prometheus.CounterValue, files[kind], kind)
	}
	for src, at := range last {
		ch <- prometheus.MustNewConstMetric(lastSuccessDesc, prometheus.GaugeValue, float64(at.UnixNano())/1e9, src)
	}
	media, err := cat.Media(ctx)
	if err != nil {
		return err
	}
	byMedia := map[catalog.MediaState]int{}
	for _, m := range media {
		byMedia[m.State]++
	}
	for _, s := range mediaStates {
		ch <- prometheus.MustNewConstMetric(cartridgesDesc, prometheus.GaugeValue, float64(byMedia[s]), string(s))
	}
	return nil
}

func (c *collector) collectDrives(ch chan<- prometheus.Metric) error {
	elems, err := c.cfg.Library.Elements()
	if err != nil {
		return err
	}
	lib := c.cfg.Library.ChangerName()
	for _, e := range elems {
		if e.Type != changer.DataTransfer {
			continue
		}
		loaded := 0.0
		if e.Full {
			loaded = 1
		}
		ch <- prometheus.MustNewConstMetric(driveLoadedDesc, prometheus.GaugeValue, loaded, lib, e.Drive)
	}
	return nil
}
