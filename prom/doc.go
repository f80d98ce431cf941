// Package bulwarkprom exposes the events and state of bulwark's building
// blocks as Prometheus metrics (github.com/prometheus/client_golang).
//
// Each building block has one constructor returning a prometheus.Collector
// with an Observe method, the observer to put in the block's Config, and
// Watch methods naming the objects whose Stats it reads at each scrape:
//
//	m := bulwarkprom.Breaker()
//	prometheus.MustRegister(m)
//	b, err := breaker.New(breaker.Config{Name: "payments", Observer: m.Observe})
//	m.Watch(b) // state gauge; the returned func stops watching
//
// Breaker, Retry and Bulkhead work that way. Balance has only gauges and
// per-node counters read from the pickers' Stats (WatchPicker), so that a
// Pick costs nothing more with metrics than without; Cache has the size
// gauge (Watch) and reads nothing on a hit. Series are named
// bulwark_<package>_<what>, counters end in _total and durations are
// histograms in seconds (the Prometheus naming practices,
// https://prometheus.io/docs/practices/naming/), and the object's name is
// the "name" label. They are the names OpenTelemetry's Prometheus exporter
// gives the instruments of package bulwarkotel, so a dashboard works with
// either module. The module's README lists every series with the event it
// counts, beside the names Polly and resilience4j use.
//
// Register each collector once per registry; one collector serves any
// number of objects, told apart by their names. A breaker.Group names its
// members "<group>/<key>": a group keyed by outside input makes one series
// per key it ever held, so bound it with GroupConfig.MaxKeys or key by host.
//
// Observe allocates nothing once a name has been seen (its counters are
// looked up once). Every type is safe for concurrent use.
package bulwarkprom
