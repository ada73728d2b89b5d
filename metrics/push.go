package metrics

import (
	"context"
	"log/slog"
	"net/url"
	"time"

	"github.com/lethe-project/lethe/jobs"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/push"
)

const (
	// PushJob is the job label of everything lethe pushes.
	PushJob = "lethe"
	// jobLabel names the lethe job: the Pushgateway's grouping key, and a
	// label of every series in a Registry.
	jobLabel = "lethe_job"
	// shardLabel names the shard (i/N) of a sharded run in its grouping
	// key.
	shardLabel = "shard"
	// DefaultPushTimeout bounds one push.
	DefaultPushTimeout = 10 * time.Second
)

// PushOption changes how [PushHook] pushes.
type PushOption func(*pushConfig)

type pushConfig struct {
	timeout time.Duration
	shard   jobs.Shard
}

// WithTimeout bounds each push to d instead of [DefaultPushTimeout].
func WithTimeout(d time.Duration) PushOption {
	return func(c *pushConfig) {
		if d > 0 {
			c.timeout = d
		}
	}
}

// WithShard adds shard=i/N to the grouping key when s is one of several
// shards (an Indexed Job's pod): each pod's push then replaces only its
// own group, not the metrics of the pods that pushed before it (their
// tables, for retention). A whole job is pushed as before.
func WithShard(s jobs.Shard) PushOption {
	return func(c *pushConfig) { c.shard = s }
}

// PushHook returns a hook that pushes a run's metrics to the Pushgateway at
// url (for example http://pushgateway:9091) when the run ends, whatever its
// outcome, with job "lethe" and grouping key lethe_job=<job name> (and
// shard=i/N with [WithShard]).
//
// It pushes with Add (HTTP POST), which replaces only the metric families it
// sends: a failed run sends no [NameLastSuccess], so the Pushgateway keeps
// the last success's. Dry runs push nothing (see the package doc).
//
// A push that fails is logged at Warn and otherwise ignored: the run's
// outcome and exit code stay what the job made them. Each push is bounded
// by a timeout and still happens when ctx was cancelled, so an aborted run
// reports its failure. User information in url is sent as basic
// authentication and never logged.
func PushHook(url string, logger *slog.Logger, opts ...PushOption) jobs.Hook {
	cfg := pushConfig{timeout: DefaultPushTimeout}
	for _, o := range opts {
		o(&cfg)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	target, user, pass, hasUser := splitUserinfo(url)
	return func(ctx context.Context, r *jobs.Report, err error) {
		log := logger.With(slog.String("job", r.Job))
		if r.DryRun {
			log.Debug("dry run: metrics not pushed")
			return
		}
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.timeout)
		defer cancel()
		p := newPusher(target, readRun(r, err))
		if cfg.shard.Sharded() {
			p = p.Grouping(shardLabel, cfg.shard.String())
		}
		if hasUser {
			p = p.BasicAuth(user, pass)
		}
		if perr := p.AddContext(ctx); perr != nil {
			log.Warn("metrics push failed; the run's outcome is unchanged", slog.String("error", perr.Error()))
			return
		}
		log.Debug("metrics pushed")
	}
}

// newPusher builds a pusher that adds s to the group lethe_job=<job>.
func newPusher(url string, s run) *push.Pusher {
	g := newGauges()
	reg := prometheus.NewRegistry()
	for _, c := range g.collectors() {
		reg.MustRegister(c)
	}
	g.set(nil, s)
	return push.New(url, PushJob).Grouping(jobLabel, s.job).Gatherer(reg)
}

// splitUserinfo removes user:password@ from raw so that it never shows in
// an error message.
func splitUserinfo(raw string) (target, user, pass string, ok bool) {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw, "", "", false
	}
	user = u.User.Username()
	pass, _ = u.User.Password()
	u.User = nil
	return u.String(), user, pass, true
}
