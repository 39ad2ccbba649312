package dma

import (
	"encoding/json"
	"fmt"
	"time"
)

// JobSpecVersion is the version of the job specs below, stored in each
// job's spec (catalog.Job.Spec, JSON). Readers take any version up to this
// one; fields are only ever added. docs/dma.md, Jobs.
const JobSpecVersion = 1

// BackupJobSpec is a backup job's spec: what it was asked to write where.
type BackupJobSpec struct {
	Version   int    `json:"version"`
	Agent     string `json:"agent"`      // data agent
	TapeAgent string `json:"tape_agent"` // agent holding the drive (Agent in 2-way)
	Path      string `json:"path"`
	Drive     string `json:"drive"`
	Barcode   string `json:"barcode"`
	Level     int    `json:"level"`
	Pool      string `json:"pool,omitempty"`
	Keep      string `json:"keep,omitempty"` // retention, a Go duration
}

// keepText is a retention as a job spec keeps it.
func keepText(d time.Duration) string {
	if d == 0 {
		return ""
	}
	return d.String()
}

// ImageJobSpec is the spec of a job that reads a backup's image: a
// restore or a verify.
type ImageJobSpec struct {
	Version   int      `json:"version"`
	Backup    int64    `json:"backup"`
	Agent     string   `json:"agent"`                // agent reading the tape (or whose data service restores)
	TapeAgent string   `json:"tape_agent,omitempty"` // agent holding the drive, when another (3-way)
	Drive     string   `json:"drive"`
	To        string   `json:"to,omitempty"` // restore destination
	Paths     []string `json:"paths,omitempty"`
}

// CopyResult (copy.go) is the copy job's spec.

// DecodeBackupJobSpec reads a backup job's spec. Specs of jobs recorded
// before specs had a version read as version 0 with the same fields.
func DecodeBackupJobSpec(spec string) (BackupJobSpec, error) {
	var s BackupJobSpec
	if err := json.Unmarshal([]byte(spec), &s); err != nil {
		return s, fmt.Errorf("dma: backup job spec: %w", err)
	}
	if s.Version > JobSpecVersion {
		return s, fmt.Errorf("dma: backup job spec version %d is newer than this ferry (%d)", s.Version, JobSpecVersion)
	}
	return s, nil
}
