// Package bulwarkprom provides Prometheus collectors for bulwark's
// building blocks (github.com/prometheus/client_golang): counters and
// histograms fed by their events, and gauges read from their Stats at each
// scrape.
//
// Each building block has one constructor returning a prometheus.Collector.
// Register it, put its Observe method in the block's Config, and pass the
// block to a Watch method for the gauges:
//
//	m := bulwarkprom.Breaker()
//	prometheus.MustRegister(m)
//	b, err := breaker.New(breaker.Config{Name: "payments", Observer: m.Observe})
//	stop := m.Watch(b) // state gauge; stop() to stop watching
//
// Most programs want one collector per building block — Retry, Breaker and
// Bulkhead, created and registered once at start-up — shared by every
// object of that kind, each object telling itself apart by its
// Config.Name. Balance reads per-node counters from the pickers' AllStats
// (WatchPicker), so that a Pick costs nothing more with metrics than
// without, and its Observe counts the Picks that found no node
// (bulwark_balance_rejections_total); Cache reads its counters and size
// from Stats (Watch), and the function CacheObserver returns, set as a
// cache's Config.Observer, times its loads
// (bulwark_cache_load_duration_seconds{kind,name,outcome}). The module's
// README lists every series.
//
// # Conventions
//
// The series of every building block, and those added for new ones, follow
// these rules. They are package bulwarkotel's conventions, spelled the
// Prometheus way (https://prometheus.io/docs/practices/naming/): each
// series is exactly what OpenTelemetry's Prometheus exporter makes of the
// bulwarkotel instrument of the same meaning, so one dashboard works with
// either module.
//
//   - One counter per thing counted, per component, in the manner of
//     resilience4j's per-component meters, rather than one events counter
//     labelled by event (Polly's resilience.polly.strategy.events): calls,
//     rejections, transitions and retries are different units, and a
//     counter per thing keeps rate(rejections)/rate(calls) meaningful. Every
//     event kind a package reports maps to one series (or to none, said in
//     its doc), never to a generic one.
//   - Names are bulwark_<component>_<what>: component is the package name
//     (retry, breaker, bulkhead, balance, cache) and is in the name, not a
//     label. Counters end in _total; durations are histograms in seconds
//     ending in _seconds (buckets 5 ms to 10 s, those of OpenTelemetry's
//     HTTP conventions); a gauge is the bare noun (state, limit,
//     in_flight).
//   - Labels, always from this set, with lower snake_case values from a
//     small fixed set: name (the object's Config.Name, on every series; a
//     breaker.Group member is "<group>/<key>"), outcome (how a call that
//     ran ended: success, failure, ignored, dropped), reason (why something
//     was refused or retried: the event's Reason.String(), such as full,
//     timeout, open, half_open, throttled, no_nodes; unknown for a reason
//     this package does not know yet), state, from and to (breaker states:
//     closed, open, half_open), node (a picker's node), and kind (what
//     started a cache load: foreground or refresh). Error text,
//     hosts and methods are never labels: they would make unbounded series.
//   - A refusal is counted in bulwark_<component>_rejections_total{name,
//     reason}, apart from the calls that ran (bulwark_breaker_calls_total;
//     bulwark_bulkhead_admissions_total, whose fast path reports no event),
//     so that adding the two counts every call once.
//   - Events feed counters and histograms (Observe); what an object knows
//     without an event — a state, a limit, slots held, admissions the fast
//     path counts without reporting — is read from its Stats at each scrape
//     by a Watch method. Observe ignores kinds it does not know.
//   - With the first event of a name, the counters every object of the
//     kind reports (calls by outcome, rejections by reason, transitions)
//     are created at zero, so that rate() sees their first increase; those
//     of opt-in features (slow calls, shadow rejections, hedges, budget
//     refusals) and the histograms appear with their first event, so that
//     an object without the feature shows no empty series.
//
// # Cost
//
// Observe runs on every call of the object it observes. It allocates
// nothing once a name has been seen: the child counters of each name are
// looked up in their vectors once, and finding them is one sync.Map load;
// recording is then an atomic add. Every type is safe for concurrent use.
//
// Register each collector once per registry; one collector serves any
// number of objects. Cardinality: one series per object name (and per node
// of a picker, per outcome or reason). A breaker.Group keyed by outside
// input (a tenant ID) makes one series per key it ever held; bound it with
// GroupConfig.MaxKeys or key by host.
package bulwarkprom
