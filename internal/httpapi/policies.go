package httpapi

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"ferry/internal/catalog"
	"ferry/internal/dma"
	"ferry/internal/view"
)

var errNoScheduler = &apiError{http.StatusServiceUnavailable, "policies_unavailable", "this node's API runs no policies"}

// policies lists the policies as ferry policy ls does.
func (a *API) policies(w http.ResponseWriter, r *http.Request) error {
	vs, err := a.policyViews(r.Context())
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, vs)
}

func (a *API) policyViews(ctx context.Context) ([]view.Policy, error) {
	m := dma.NewManager(a.cfg.Catalog, dma.ManagerConfig{Layout: a.cfg.Layout})
	return m.PolicyViews(ctx, time.Now())
}

// runPolicy queues a run of a policy on the node's scheduler, behind the
// runs waiting for its drive, and answers 202 with the policy.
func (a *API) runPolicy(w http.ResponseWriter, r *http.Request) error {
	kind := r.URL.Query().Get("kind")
	switch kind {
	case "", catalog.PolicyFull, catalog.PolicyIncremental:
	default:
		return badRequest("kind %q: give full or incremental", kind)
	}
	if a.cfg.Scheduler == nil {
		return errNoScheduler
	}
	name := r.PathValue("name")
	err := a.cfg.Scheduler.RunNow(r.Context(), name, kind)
	if errors.Is(err, dma.ErrPolicyBusy) {
		return &apiError{http.StatusConflict, "policy_busy", "policy " + name + " has a run queued or running"}
	}
	if err != nil {
		return err
	}
	p, err := a.cfg.Catalog.Policy(r.Context(), name)
	if err != nil {
		return err
	}
	m := dma.NewManager(a.cfg.Catalog, dma.ManagerConfig{Layout: a.cfg.Layout})
	v, err := m.PolicyView(r.Context(), p, time.Now())
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusAccepted, v)
}

var (
	policyLastSuccessDesc = prometheus.NewDesc("ferry_policy_last_success_timestamp_seconds",
		"When the last run of a policy that succeeded ended (absent: none has).", []string{"policy"}, nil)
	policyNextRunDesc = prometheus.NewDesc("ferry_policy_next_run_timestamp_seconds",
		"When a policy runs next (a time passed: due now).", []string{"policy"}, nil)
)

// policyCollector reports each policy's last success and next run.
type policyCollector struct{ cfg Config }

func (c *policyCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- policyLastSuccessDesc
	ch <- policyNextRunDesc
}

func (c *policyCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	m := dma.NewManager(c.cfg.Catalog, dma.ManagerConfig{Layout: c.cfg.Layout})
	vs, err := m.PolicyViews(ctx, time.Now())
	if err != nil {
		ch <- prometheus.NewInvalidMetric(policyNextRunDesc, err)
		return
	}
	seconds := func(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }
	for _, v := range vs {
		if v.LastSuccess != nil {
			ch <- prometheus.MustNewConstMetric(policyLastSuccessDesc, prometheus.GaugeValue, seconds(*v.LastSuccess), v.Name)
		}
		if v.NextRun != nil {
			ch <- prometheus.MustNewConstMetric(policyNextRunDesc, prometheus.GaugeValue, seconds(*v.NextRun), v.Name)
		}
	}
}
