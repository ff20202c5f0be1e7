// Package metrics defines what Softland measures about itself, for
// Prometheus at /metrics. No metric has a label that could carry a room id, a
// token, a key or a catalog word: labels are only fixed protocol codes and
// kinds, so the metrics page is safe to expose to an operator.
package metrics

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics holds Softland's collectors on their own registry, so tests can
// build as many servers as they like without clashing registrations.
type Metrics struct {
	Registry *prometheus.Registry

	Sockets        prometheus.Gauge
	Admitted       *prometheus.CounterVec // by kind: create, join, resume
	Resumes        *prometheus.CounterVec // by mode: replay, snapshot
	Requests       *prometheus.CounterVec // by message type
	Errors         *prometheus.CounterVec // by error code
	Closes         *prometheus.CounterVec // by reason (fixed strings)
	Events         *prometheus.CounterVec // by event kind, per socket it was sent to
	Reveal         prometheus.Histogram   // completing submit received → reveal committed
	RequestLatency *prometheus.HistogramVec
	Pushes         *prometheus.CounterVec // Web Push, by kind and outcome (fixed strings)
	PushQueue      prometheus.Gauge       // pushes waiting: queued, in their grace or backing off
}

// New returns a fresh set of collectors, registered with Go and process
// collectors on a new registry.
func New() *Metrics {
	r := prometheus.NewRegistry()
	m := &Metrics{
		Registry: r,
		Sockets: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "softland_sockets", Help: "Open WebSocket connections.",
		}),
		Admitted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "softland_admitted_total", Help: "Sockets admitted to a room, by create, join or resume.",
		}, []string{"kind"}),
		Resumes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "softland_resumes_total", Help: "Resumes, by whether the phone got a replay or a snapshot.",
		}, []string{"mode"}),
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "softland_requests_total", Help: "Requests from phones, by message type.",
		}, []string{"type"}),
		Errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "softland_errors_total", Help: "Error frames sent, by error code.",
		}, []string{"code"}),
		Closes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "softland_closes_total", Help: "Sockets closed by the server, by reason.",
		}, []string{"reason"}),
		Events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "softland_events_sent_total", Help: "Room events sent live to sockets (not in welcome replays), by kind.",
		}, []string{"kind"}),
		Reveal: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "softland_reveal_seconds",
			Help:    "From receiving the submission that completes a pair to committing the reveal.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16),
		}),
		RequestLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "softland_request_seconds",
			Help:    "Time to handle a request, by message type.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16),
		}, []string{"type"}),
		Pushes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "softland_pushes_total", Help: "Web Push decisions and attempts, by kind (pause, checkin, debrief, space) and outcome (sent, confirmed, gone, rejected, retried, failed, dropped).",
		}, []string{"kind", "outcome"}),
		PushQueue: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "softland_push_pending", Help: "Web Pushes waiting on this instance: queued, in their grace period or backing off.",
		}),
	}
	r.MustRegister(m.Sockets, m.Admitted, m.Resumes, m.Requests, m.Errors, m.Closes, m.Events, m.Reveal, m.RequestLatency, m.Pushes, m.PushQueue,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the metrics page.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry})
}
