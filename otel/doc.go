// Package bulwarkotel provides OpenTelemetry metrics for bulwark's building
// blocks: counters and histograms fed by their events, and gauges read from
// their Stats, through any go.opentelemetry.io/otel/metric Meter (the SDK's,
// or a no-op one).
//
// Each building block has one constructor that creates its instruments on
// a meter. Put the result's Observe method in the block's Config, and pass
// the block to a Watch method for the gauges:
//
//	m, err := bulwarkotel.Breaker(meter)
//	b, err := breaker.New(breaker.Config{Name: "payments", Observer: m.Observe})
//	reg, err := m.Watch(b) // state gauge; reg.Unregister() to stop
//
// Most programs want one value per building block — Retry, Breaker and
// Bulkhead, created once at start-up — shared by every object of that
// kind, each object telling itself apart by its Config.Name. Balance reads
// per-node counters from the pickers' AllStats (WatchPicker), so that a
// Pick costs nothing more with metrics than without, and its Observe
// counts the Picks that found no node; Cache reads its counters and size
// from Stats (Watch), and the function CacheObserver returns, set as a
// cache's Config.Observer, times its loads. The module's README lists
// every instrument.
//
// # Conventions
//
// The instruments of every building block, and those added for new ones,
// follow these rules; package bulwarkprom follows the same ones, and
// OpenTelemetry's Prometheus exporter turns these instruments into exactly
// its series.
//
//   - One instrument per thing counted, per component, in the manner of
//     resilience4j's per-component meters, rather than one events counter
//     tagged by event (Polly's resilience.polly.strategy.events): calls,
//     rejections, transitions and retries are different units, and a
//     counter per thing keeps rate(rejections)/rate(calls) meaningful and
//     each series' unit honest. Every event kind a package reports maps to
//     one instrument (or to none, said in its doc), never to a generic one.
//   - Names are bulwark.<component>.<what>: component is the package name
//     (retry, breaker, bulkhead, balance, cache) and is in the name, not an
//     attribute. <what> is a plural noun for a counter (calls, rejections,
//     transitions), singular for a value (state, limit, in_flight); words
//     are joined by "_" and a sub-object by "." (retry.budget.tokens), after
//     OpenTelemetry's naming rules
//     (https://opentelemetry.io/docs/specs/semconv/general/naming/).
//   - Units are UCUM: "s" for every duration, recorded as a float64
//     histogram in seconds (buckets 5 ms to 10 s, those of OpenTelemetry's
//     HTTP conventions; a View can change them), named <what>.duration or,
//     for a wait, the noun alone (retry.delay); counts carry an annotation
//     ("{call}", "{retry}", "{transition}").
//   - Attributes, always from this set, with lower snake_case values from a
//     small fixed set: name (the object's Config.Name, on every
//     instrument; a breaker.Group member is "<group>/<key>"), outcome (how
//     a call that ran ended: success, failure, ignored, dropped), reason
//     (why something was refused or retried: the event's Reason.String(),
//     such as full, timeout, open, half_open, throttled, no_nodes; unknown
//     for a reason this package does not know yet), state, from and to
//     (breaker states: closed, open, half_open), node (a picker's node),
//     and kind (what started a cache load: foreground or refresh). Error
//     text, hosts and methods are never attributes: they would make
//     unbounded series.
//   - A refusal is counted in bulwark.<component>.rejections{name, reason},
//     apart from the calls that ran (bulwark.breaker.calls{name, outcome};
//     bulwark.bulkhead.admissions, whose fast path reports no event), so
//     that adding the two counts every call once.
//   - Events feed counters and histograms (Observe); what an object knows
//     without an event — a state, a limit, slots held, admissions the fast
//     path counts without reporting — is read from its Stats at each
//     collection by an asynchronous instrument registered by a Watch
//     method. Observe ignores kinds it does not know.
//
// # Cost
//
// Observe runs on every call of the object it observes. It allocates
// nothing once a name has been seen: the attribute sets of each name are
// built once and recorded with precomputed options, and finding them is
// one sync.Map load. Instruments are created once per constructor call
// (the SDK returns the same instrument for the same name, so calling a
// constructor twice on one meter is harmless). Every type is safe for
// concurrent use.
//
// Cardinality: one series per object name (and per node of a picker, per
// outcome or reason). A breaker.Group keyed by outside input (a tenant ID)
// makes one series per key it ever held; bound it with GroupConfig.MaxKeys
// or key by host.
package bulwarkotel
