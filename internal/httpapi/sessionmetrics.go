package httpapi

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"ferry/internal/stats"
)

// sessionCollector reports the live NDMP and iSCSI sessions' figures the
// servers count (internal/stats): per session, and per LUN for iSCSI.
type sessionCollector struct{ reg *stats.Registry }

var (
	sessCommandsDesc = prometheus.NewDesc("ferry_session_commands_total", "Commands (NDMP requests, SCSI commands) a live session sent.",
		[]string{"protocol", "session", "peer"}, nil)
	sessErrorsDesc = prometheus.NewDesc("ferry_session_command_errors_total", "Commands of a live session that failed (an NDMP error, a SCSI status other than GOOD).",
		[]string{"protocol", "session", "peer"}, nil)
	sessBytesDesc = prometheus.NewDesc("ferry_session_bytes_total", "Data bytes of a live session: in, received (written to tape or disk); out, sent (read).",
		[]string{"protocol", "session", "peer", "direction"}, nil)
	sessLatencyDesc = prometheus.NewDesc("ferry_session_command_duration_seconds", "How long a live session's commands took to execute.",
		[]string{"protocol", "session", "peer"}, nil)
	luCommandsDesc = prometheus.NewDesc("ferry_iscsi_lun_commands_total", "SCSI commands a live iSCSI session sent to a LUN.",
		[]string{"session", "initiator", "lun"}, nil)
	luErrorsDesc = prometheus.NewDesc("ferry_iscsi_lun_command_errors_total", "SCSI commands to a LUN that ended with a status other than GOOD.",
		[]string{"session", "initiator", "lun"}, nil)
	luBytesDesc = prometheus.NewDesc("ferry_iscsi_lun_bytes_total", "Data bytes a live iSCSI session moved to (in) and from (out) a LUN.",
		[]string{"session", "initiator", "lun", "direction"}, nil)
	luLatencyDesc = prometheus.NewDesc("ferry_iscsi_lun_command_duration_seconds", "How long SCSI commands to a LUN took to execute.",
		[]string{"session", "initiator", "lun"}, nil)
)

func (c sessionCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{sessCommandsDesc, sessErrorsDesc, sessBytesDesc, sessLatencyDesc,
		luCommandsDesc, luErrorsDesc, luBytesDesc, luLatencyDesc} {
		ch <- d
	}
}

func (c sessionCollector) Collect(ch chan<- prometheus.Metric) {
	for _, s := range c.reg.Snapshot() {
		emit(ch, s.Figures, [4]*prometheus.Desc{sessCommandsDesc, sessErrorsDesc, sessBytesDesc, sessLatencyDesc}, s.Kind, s.ID, s.Peer)
		for lun, f := range s.Units {
			emit(ch, f, [4]*prometheus.Desc{luCommandsDesc, luErrorsDesc, luBytesDesc, luLatencyDesc}, s.ID, s.Peer, strconv.FormatUint(lun, 10))
		}
	}
}

// emit sends one set of figures: commands, errors, bytes both ways and
// the latency histogram, under labels.
func emit(ch chan<- prometheus.Metric, f stats.Figures, d [4]*prometheus.Desc, labels ...string) {
	ch <- prometheus.MustNewConstMetric(d[0], prometheus.CounterValue, float64(f.Commands), labels...)
	ch <- prometheus.MustNewConstMetric(d[1], prometheus.CounterValue, float64(f.Errors), labels...)
	ch <- prometheus.MustNewConstMetric(d[2], prometheus.CounterValue, float64(f.BytesIn), append(labels, "in")...)
	ch <- prometheus.MustNewConstMetric(d[2], prometheus.CounterValue, float64(f.BytesOut), append(labels, "out")...)
	buckets := make(map[float64]uint64, len(stats.Buckets))
	for i, b := range stats.Buckets {
		buckets[b] = f.Latency[i]
	}
	ch <- prometheus.MustNewConstHistogram(d[3], f.Latency[len(f.Latency)-1], f.LatencySum, buckets, labels...)
}
