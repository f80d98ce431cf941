package bulwarkgrpc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/bulwark-go/bulwark/balance"
	"google.golang.org/grpc/balancer"
	"google.golang.org/grpc/balancer/base"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/serviceconfig"
	"google.golang.org/grpc/status"
)

// The names under which this package registers its balancers with grpc-go
// (balancer.Register, when the package is imported). Select one in the
// service config:
//
//	grpc.WithDefaultServiceConfig(`{"loadBalancingConfig": [{"bulwark_peak_ewma": {}}]}`)
const (
	// P2CBalancer is balance.P2C: the less loaded (fewest calls in flight) of
	// two random ready backends, grpc-go's least_request with outlier
	// ejection added.
	P2CBalancer = "bulwark_p2c"
	// PeakEWMABalancer is balance.PeakEWMA: P2C on a latency estimate times
	// the calls in flight, which steers away from a slow backend within a
	// few calls. The one to start with.
	PeakEWMABalancer = "bulwark_peak_ewma"
	// ConsistentHashBalancer is balance.Consistent: calls with the same value
	// of the metadata key "hashKey" go to the same backend while loads are
	// balanced (bounded-load consistent hashing); calls without it spread by
	// load.
	ConsistentHashBalancer = "bulwark_consistent_hash"
)

func init() {
	balancer.Register(&lbBuilder{name: P2CBalancer})
	balancer.Register(&lbBuilder{name: PeakEWMABalancer})
	balancer.Register(&lbBuilder{name: ConsistentHashBalancer})
}

// lbConfig is the parsed JSON configuration of one of the balancers.
type lbConfig struct {
	serviceconfig.LoadBalancingConfig
	cfg     balance.Config
	hashKey string
}

// equal reports whether c and o configure the same picker. balance.Config
// holds a func (Observer), so it is not comparable with ==; a parsed
// configuration never sets one, and DeepEqual treats two nil funcs as equal.
func (c *lbConfig) equal(o *lbConfig) bool {
	return c.hashKey == o.hashKey && reflect.DeepEqual(c.cfg, o.cfg)
}

// lbJSON is the JSON form. Durations are strings in Go's syntax ("30s",
// "1.5s", "250ms"), which includes the protobuf JSON form of a Duration.
type lbJSON struct {
	EjectAfter        *int     `json:"ejectAfter"`
	EjectFor          string   `json:"ejectFor"`
	MaxEjectFor       string   `json:"maxEjectFor"`
	MaxEjectedPercent *int     `json:"maxEjectedPercent"`
	PanicPercent      *int     `json:"panicPercent"`
	SlowStart         string   `json:"slowStart"`
	DisableEjection   bool     `json:"disableEjection"`
	DecayTime         string   `json:"decayTime"`
	FailurePenalty    string   `json:"failurePenalty"`
	LoadFactor        *float64 `json:"loadFactor"`
	Replicas          *int     `json:"replicas"`
	HashKey           string   `json:"hashKey"`
}

type lbBuilder struct{ name string }

func (b *lbBuilder) Name() string { return b.name }

// ParseConfig reads the balancer's JSON object. Every field is optional and
// means the balance.Config field of the same name (zero or absent: the
// documented default), plus hashKey for the consistent-hash balancer, which
// requires it. Unknown fields and invalid values are errors naming them.
func (b *lbBuilder) ParseConfig(js json.RawMessage) (serviceconfig.LoadBalancingConfig, error) {
	var j lbJSON
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		return nil, configErrorf("%s config: %v", b.name, err)
	}
	c := &lbConfig{}
	for _, d := range []struct {
		name string
		s    string
		dst  *time.Duration
	}{
		{"ejectFor", j.EjectFor, &c.cfg.EjectFor},
		{"maxEjectFor", j.MaxEjectFor, &c.cfg.MaxEjectFor},
		{"slowStart", j.SlowStart, &c.cfg.SlowStart},
		{"decayTime", j.DecayTime, &c.cfg.DecayTime},
		{"failurePenalty", j.FailurePenalty, &c.cfg.FailurePenalty},
	} {
		if d.s == "" {
			continue
		}
		v, err := time.ParseDuration(d.s)
		if err != nil {
			return nil, configErrorf("%s config: %s %q not a duration", b.name, d.name, d.s)
		}
		*d.dst = v
	}
	set := func(dst *int, v *int) {
		if v != nil {
			*dst = *v
		}
	}
	set(&c.cfg.EjectAfter, j.EjectAfter)
	set(&c.cfg.MaxEjectedPercent, j.MaxEjectedPercent)
	set(&c.cfg.PanicPercent, j.PanicPercent)
	set(&c.cfg.Replicas, j.Replicas)
	if j.LoadFactor != nil {
		c.cfg.LoadFactor = *j.LoadFactor
	}
	c.cfg.DisableEjection = j.DisableEjection
	switch {
	case b.name == ConsistentHashBalancer && j.HashKey == "":
		return nil, configErrorf("%s config: hashKey missing (the metadata key whose value routes a call)", b.name)
	case b.name != ConsistentHashBalancer && j.HashKey != "":
		return nil, configErrorf("%s config: hashKey %q applies to %s only", b.name, j.HashKey, ConsistentHashBalancer)
	}
	c.hashKey = strings.ToLower(j.HashKey) // gRPC metadata keys are lower case
	if _, err := newPool(b.name, []string{"validate"}, c.cfg); err != nil {
		return nil, fmt.Errorf("bulwarkgrpc: %s config: %w", b.name, err)
	}
	return c, nil
}

// pool is the part of balance's pickers this package uses.
type pool interface {
	balance.Picker[string]
	Update(nodes []string) error
}

func newPool(name string, nodes []string, cfg balance.Config) (pool, error) {
	switch name {
	case P2CBalancer:
		return balance.NewP2C(nodes, cfg)
	case PeakEWMABalancer:
		return balance.NewPeakEWMA(nodes, cfg)
	default:
		return balance.NewConsistent(nodes, cfg)
	}
}

func (b *lbBuilder) Build(cc balancer.ClientConn, opts balancer.BuildOptions) balancer.Balancer {
	lb := &lbBalancer{name: b.name}
	// base does the SubConn bookkeeping (one per address, reconnects,
	// connectivity state, health checks when the service config asks);
	// this balancer keeps one bulwark picker per ClientConn across the
	// snapshots base asks for, so load, latency and ejection survive them.
	lb.Balancer = base.NewBalancerBuilder(b.name, lb, base.Config{HealthCheck: true}).Build(cc, opts)
	return lb
}

// lbBalancer is one ClientConn's balancer. grpc-go calls its methods, and
// base calls Build, one at a time, so cfg and pool need no lock; pickers
// read only their own snapshot and the concurrency-safe pool.
type lbBalancer struct {
	balancer.Balancer
	name string
	cfg  *lbConfig
	pool pool
}

func (lb *lbBalancer) UpdateClientConnState(s balancer.ClientConnState) error {
	if c, ok := s.BalancerConfig.(*lbConfig); ok && (lb.cfg == nil || !c.equal(lb.cfg)) {
		lb.cfg = c
		lb.pool = nil // a new configuration starts a new picker
	}
	return lb.Balancer.UpdateClientConnState(s)
}

// Build implements base.PickerBuilder: it moves the bulwark picker to the
// ready backends and returns a grpc-go picker over this snapshot.
func (lb *lbBalancer) Build(info base.PickerBuildInfo) balancer.Picker {
	if len(info.ReadySCs) == 0 {
		return base.NewErrPicker(balancer.ErrNoSubConnAvailable)
	}
	conns := make(map[string]balancer.SubConn, len(info.ReadySCs))
	addrs := make([]string, 0, len(info.ReadySCs))
	for sc, sci := range info.ReadySCs {
		if _, dup := conns[sci.Address.Addr]; dup {
			continue
		}
		conns[sci.Address.Addr] = sc
		addrs = append(addrs, sci.Address.Addr)
	}
	slices.Sort(addrs)
	cfg := lb.cfg
	if cfg == nil {
		cfg = &lbConfig{}
	}
	var err error
	if lb.pool == nil {
		lb.pool, err = newPool(lb.name, addrs, cfg.cfg)
	} else {
		err = lb.pool.Update(addrs)
	}
	if err != nil {
		lb.pool = nil
		return base.NewErrPicker(status.Errorf(codes.Internal, "bulwarkgrpc: %s: %v", lb.name, err))
	}
	p := &picker{pool: lb.pool, conns: conns, hashKey: cfg.hashKey}
	if kp, ok := lb.pool.(balance.KeyPicker[string]); ok && cfg.hashKey != "" {
		p.keyed = kp
	}
	return p
}

// picker is one snapshot of the ready backends over the shared bulwark
// picker. Pick never blocks and, without a hash key, allocates nothing: the
// Done callback comes from a pool. (Reading the hash key allocates the
// metadata value's copy.)
type picker struct {
	pool    pool
	keyed   balance.KeyPicker[string]
	conns   map[string]balancer.SubConn
	hashKey string
}

func (p *picker) Pick(info balancer.PickInfo) (balancer.PickResult, error) {
	var permit balance.Permit[string]
	var err error
	if key, ok := p.key(info.Ctx); ok {
		permit, err = p.keyed.PickKey(key)
	} else {
		permit, err = p.pool.Pick()
	}
	if err != nil {
		var ue *balance.UnavailableError
		if errors.As(err, &ue) {
			return balancer.PickResult{}, status.Error(codes.Unavailable, "bulwarkgrpc: "+err.Error())
		}
		return balancer.PickResult{}, balancer.ErrNoSubConnAvailable
	}
	sc, ok := p.conns[permit.Node]
	if !ok {
		// The shared picker has moved on to a newer snapshot; grpc-go picks
		// again with the newer picker.
		permit.Done(context.Canceled)
		return balancer.PickResult{}, balancer.ErrNoSubConnAvailable
	}
	d := donePool.Get().(*pickDone)
	d.permit = permit
	return balancer.PickResult{SubConn: sc, Done: d.fn}, nil
}

func (p *picker) key(ctx context.Context) (string, bool) {
	if p.keyed == nil {
		return "", false
	}
	vs := metadata.ValueFromOutgoingContext(ctx, p.hashKey) // copies no other key
	if len(vs) == 0 {
		return "", false
	}
	return vs[0], true
}

// pickDone carries a Permit to grpc-go's Done callback; fn is its done
// method, bound once, so that a pick costs no closure. grpc-go calls Done
// exactly once per pick, after which the pickDone goes back to the pool.
type pickDone struct {
	permit balance.Permit[string]
	fn     func(balancer.DoneInfo)
}

var donePool sync.Pool // of *pickDone; New is set in init (it refers to done, which refers to the pool)

func init() {
	donePool.New = func() any {
		d := &pickDone{}
		d.fn = d.done
		return d
	}
}

func (d *pickDone) done(info balancer.DoneInfo) {
	permit := d.permit
	d.permit = balance.Permit[string]{}
	donePool.Put(d)
	err := outcome(info.Err, defaultFailures)
	if info.Err == nil && !info.BytesSent {
		// grpc-go found the picked connection not ready and picks again: no
		// call was made, so the node earns no success.
		err = context.Canceled
	}
	permit.Done(err)
}
