package metrics

import (
	"context"
	"net/http"

	"github.com/lethe-project/lethe/jobs"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
)

// Registry keeps the metrics of every run in process, for a long-running
// `lethe schedule`: the same names as [PushHook] pushes, each series with
// the label lethe_job, plus [NameSkippedRuns] and the Go and process
// collectors. It is safe for concurrent use.
type Registry struct {
	reg     *prometheus.Registry
	g       *gauges
	skipped *prometheus.CounterVec
}

var _ prometheus.Gatherer = (*Registry)(nil)

// NewRegistry returns an empty Registry.
func NewRegistry() *Registry {
	r := &Registry{
		reg: prometheus.NewRegistry(),
		g:   newGauges(jobLabel),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: NameSkippedRuns,
			Help: "Runs of the lethe job that lethe schedule skipped because the previous run was still going.",
		}, []string{jobLabel}),
	}
	for _, c := range r.g.collectors() {
		r.reg.MustRegister(c)
	}
	r.reg.MustRegister(r.skipped, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return r
}

// Record records a finished run; a dry run records nothing.
func (r *Registry) Record(rep *jobs.Report, err error) {
	if rep.DryRun {
		return
	}
	s := readRun(rep, err)
	r.g.set([]string{s.job}, s)
}

// Hook returns a hook that records every run with [Registry.Record].
func (r *Registry) Hook() jobs.Hook {
	return func(_ context.Context, rep *jobs.Report, err error) { r.Record(rep, err) }
}

// Skipped counts a run of job that was skipped.
func (r *Registry) Skipped(job string) {
	r.skipped.WithLabelValues(job).Inc()
}

// Gather implements prometheus.Gatherer.
func (r *Registry) Gather() ([]*dto.MetricFamily, error) { return r.reg.Gather() }

// Handler serves the registry in the Prometheus exposition formats.
func (r *Registry) Handler() http.Handler {
	return promhttp.HandlerFor(r.reg, promhttp.HandlerOpts{Registry: r.reg})
}
