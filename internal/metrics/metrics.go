// Package metrics is the operator's /metrics: the app's series in the
// Prometheus format, on a registry of its own (never the global default).
// HTTP requests are labelled by Echo's route pattern, WHAPI calls by the
// call's path pattern, jobs by their kind: no label carries a token, an
// e-mail or a WHAPI id.
package metrics

import (
	"context"
	"crypto/subtle"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// State is what the database says at scrape time.
type State struct {
	DaysAllocated, DaysReturned int64            // customers' days moved onto and back from channels, all time
	PartnerDays                 int64            // the partner balance's estimate (bought − extended + returned)
	Channels                    map[string]int64 // channels by state
	OutboxWaiting               int64            // mails not yet sent
	WebhooksWaiting             int64            // webhook deliveries on their way
}

// Metrics holds the app's series.
type Metrics struct {
	reg       *prometheus.Registry
	httpReqs  *prometheus.CounterVec
	httpTime  *prometheus.HistogramVec
	whapiReqs *prometheus.CounterVec
	whapiTime *prometheus.HistogramVec
	jobRuns   *prometheus.CounterVec
	jobFails  *prometheus.CounterVec
}

// New returns the series of one app, with the database's gauges read by
// read at each scrape, and the build info of version.
func New(version string, read func(context.Context) (State, error)) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.httpReqs = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "whapidesk_http_requests_total", Help: "HTTP requests answered, by route pattern, method and status.",
	}, []string{"route", "method", "status"})
	m.httpTime = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "whapidesk_http_request_duration_seconds", Help: "Time to answer an HTTP request, by route pattern and method.",
		Buckets: prometheus.DefBuckets,
	}, []string{"route", "method"})
	m.whapiReqs = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "whapidesk_whapi_requests_total", Help: "Calls to WHAPI, by endpoint pattern and outcome (ok, client_error, server_error, transport_error).",
	}, []string{"api", "method", "endpoint", "outcome"})
	m.whapiTime = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "whapidesk_whapi_request_duration_seconds", Help: "Time of one call to WHAPI, by endpoint pattern.",
		Buckets: []float64{.05, .1, .25, .5, 1, 2.5, 5, 10, 15},
	}, []string{"api", "method", "endpoint"})
	m.jobRuns = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "whapidesk_job_runs_total", Help: "Background job runs finished, by kind (failed ones included).",
	}, []string{"kind"})
	m.jobFails = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "whapidesk_job_failures_total", Help: "Background job runs that failed, by kind.",
	}, []string{"kind"})
	build := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "whapidesk_build_info", Help: "Always 1: the version of the running app.",
		ConstLabels: prometheus.Labels{"version": version},
	})
	build.Set(1)
	m.reg.MustRegister(m.httpReqs, m.httpTime, m.whapiReqs, m.whapiTime, m.jobRuns, m.jobFails, build,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if read != nil {
		m.reg.MustRegister(&dbCollector{read: read})
	}
	return m
}

// Handler serves the exposition; token, when not "", must come as
// "Authorization: Bearer <token>" (401 otherwise).
func (m *Metrics) Handler(token string) http.Handler {
	h := promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
	if token == "" {
		return h
	}
	want := []byte("Bearer " + token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := []byte(r.Header.Get("Authorization"))
		if subtle.ConstantTimeCompare(got, want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="metrics"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// Echo counts each request by its route pattern (c.Path(), never the raw
// path: "unmatched" when no route took it) and status. It answers a
// handler's error itself, through the app's error handler, as Echo's
// request logger does, so that the status counted is the one sent.
func (m *Metrics) Echo() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			start := time.Now()
			if err := next(c); err != nil {
				c.Error(err) // the app's error handler answers: its status is the one counted
			}
			status := c.Response().Status
			route := c.Path()
			if route == "" || status == http.StatusNotFound && route == "/*" {
				route = "unmatched"
			}
			method := c.Request().Method
			m.httpReqs.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
			m.httpTime.WithLabelValues(route, method).Observe(time.Since(start).Seconds())
			return nil
		}
	}
}

// JobDone counts one finished run of a job of kind.
func (m *Metrics) JobDone(kind string, failed bool) {
	m.jobRuns.WithLabelValues(kind).Inc()
	if failed {
		m.jobFails.WithLabelValues(kind).Inc()
	} else {
		m.jobFails.WithLabelValues(kind).Add(0) // the series exists from the first run
	}
}

// Transport wraps next (http.DefaultTransport when nil) so that each call
// to WHAPI is counted. api names which API the transport serves ("whapi").
func (m *Metrics) Transport(next http.RoundTripper) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	return roundTripper{m: m, next: next}
}

type roundTripper struct {
	m    *Metrics
	next http.RoundTripper
}

func (rt roundTripper) RoundTrip(r *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := rt.next.RoundTrip(r)
	api, endpoint := Endpoint(r.URL.Path)
	outcome := "ok"
	switch {
	case err != nil:
		outcome = "transport_error"
	case resp.StatusCode >= 500:
		outcome = "server_error"
	case resp.StatusCode >= 300:
		outcome = "client_error"
	}
	rt.m.whapiReqs.WithLabelValues(api, r.Method, endpoint, outcome).Inc()
	rt.m.whapiTime.WithLabelValues(api, r.Method, endpoint).Observe(time.Since(start).Seconds())
	return resp, err
}

// endpoints are WHAPI's path patterns the client calls (the manager's and
// the gate's), matched at the end of the path, so that a base URL's own
// prefix does not matter. Anything else is "other": a path's segments are
// never copied into a label.
var endpoints = []struct {
	api, pattern string
	re           *regexp.Regexp
}{
	{"manager", "/channels/{id}/extend", regexp.MustCompile(`/channels/[^/]+/extend$`)},
	{"manager", "/channels/{id}/mode", regexp.MustCompile(`/channels/[^/]+/mode$`)},
	{"manager", "/channels/{id}/restart", regexp.MustCompile(`/channels/[^/]+/restart$`)},
	{"manager", "/channels/{id}/start", regexp.MustCompile(`/channels/[^/]+/start$`)},
	{"manager", "/channels/{id}/stop", regexp.MustCompile(`/channels/[^/]+/stop$`)},
	{"manager", "/channels/list", regexp.MustCompile(`/channels/list$`)},
	{"manager", "/channels/{id}", regexp.MustCompile(`/channels/[^/]+$`)},
	{"manager", "/channels", regexp.MustCompile(`/channels$`)},
	{"manager", "/projects", regexp.MustCompile(`/projects$`)},
	{"gate", "/users/login/{phone}", regexp.MustCompile(`/users/login/[^/]+$`)},
	{"gate", "/users/login", regexp.MustCompile(`/users/login$`)},
	{"gate", "/users/logout", regexp.MustCompile(`/users/logout$`)},
	{"gate", "/health", regexp.MustCompile(`/health$`)},
	{"gate", "/settings", regexp.MustCompile(`/settings$`)},
	{"gate", "/messages/text", regexp.MustCompile(`/messages/text$`)},
}

// Endpoint returns the API and the path pattern of a WHAPI call's path.
func Endpoint(path string) (api, pattern string) {
	path = strings.TrimSuffix(path, "/")
	for _, e := range endpoints {
		if e.re.MatchString(path) {
			return e.api, e.pattern
		}
	}
	return "other", "other"
}

// dbCollector reads the database's gauges at each scrape.
type dbCollector struct {
	read func(context.Context) (State, error)
}

var (
	descDays     = prometheus.NewDesc("whapidesk_days_moved", "Customers' days moved onto channels (allocated) and back (returned), all time.", []string{"direction"}, nil)
	descPartner  = prometheus.NewDesc("whapidesk_partner_days", "The partner's days left by its ledger (bought − extended + returned).", nil, nil)
	descChannels = prometheus.NewDesc("whapidesk_channels", "Channels by state.", []string{"state"}, nil)
	descOutbox   = prometheus.NewDesc("whapidesk_outbox_waiting", "Mails in the outbox not yet sent.", nil, nil)
	descHooks    = prometheus.NewDesc("whapidesk_webhook_deliveries_waiting", "Webhook deliveries on their way.", nil, nil)
	descUp       = prometheus.NewDesc("whapidesk_database_up", "1 when the database's gauges were read at this scrape, 0 when reading them failed.", nil, nil)
)

func (d *dbCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, x := range []*prometheus.Desc{descDays, descPartner, descChannels, descOutbox, descHooks, descUp} {
		ch <- x
	}
}

func (d *dbCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := d.read(ctx)
	if err != nil {
		ch <- prometheus.MustNewConstMetric(descUp, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(descUp, prometheus.GaugeValue, 1)
	ch <- prometheus.MustNewConstMetric(descDays, prometheus.GaugeValue, float64(s.DaysAllocated), "allocated")
	ch <- prometheus.MustNewConstMetric(descDays, prometheus.GaugeValue, float64(s.DaysReturned), "returned")
	ch <- prometheus.MustNewConstMetric(descPartner, prometheus.GaugeValue, float64(s.PartnerDays))
	for state, n := range s.Channels {
		ch <- prometheus.MustNewConstMetric(descChannels, prometheus.GaugeValue, float64(n), state)
	}
	ch <- prometheus.MustNewConstMetric(descOutbox, prometheus.GaugeValue, float64(s.OutboxWaiting))
	ch <- prometheus.MustNewConstMetric(descHooks, prometheus.GaugeValue, float64(s.WebhooksWaiting))
}
