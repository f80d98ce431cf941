package balance

import (
	"strconv"
	"time"
)

// ReplicaConfig tunes a ReplicaRouter. The zero ReplicaConfig is valid:
// every zero field means the documented default.
type ReplicaConfig struct {
	// ProbeInterval is the time between two probe rounds, each of which
	// reads every member's position. A read waiting for a position asks for
	// a round at once, but rounds never start closer than ProbeInterval/10.
	// Zero means 100ms. Negative is an error.
	ProbeInterval time.Duration

	// ProbeTimeout bounds one position read. A round waits for its reads
	// at most ProbeInterval; a slower read (a stopped server) lands in a
	// later round, and the member is not read again until it returns. Zero
	// means 1s. Negative is an error.
	ProbeTimeout time.Duration

	// MaxWait bounds how long a read carrying a Token waits for a replica
	// to reach it before it goes to the primary. Zero means 20ms: two
	// rounds at the shortest spacing, plenty for replication within a data
	// centre. Negative is an error.
	MaxWait time.Duration

	// MaxLag is the lag beyond which a replica stops taking reads without
	// a Token (subject to the floor). Zero means 30s, Vitess's
	// discovery_low_replication_lag default
	// (https://github.com/vitessio/vitess/blob/main/go/vt/discovery/replicationlag.go).
	// Negative is an error.
	MaxLag time.Duration

	// UnknownLag says how a replica whose lag is unknown counts: one whose
	// latest position read failed or is still running past ProbeInterval,
	// or that has not answered yet. The default, LagFromLastPosition,
	// measures its lag from the last position it reported.
	UnknownLag UnknownLag

	// MinServingPercent is the floor, in [0,100]: ejection for lag never
	// leaves fewer than ceil(MinServingPercent% of the replicas) serving.
	// When more replicas lag, the least lagging of them keep serving, as
	// Vitess keeps min_number_serving_vttablets tablets
	// (https://vitess.io/docs/reference/programs/vtgate/) and Envoy stops
	// honouring health below its panic threshold
	// (https://www.envoyproxy.io/docs/envoy/latest/intro/arch_overview/upstream/load_balancing/panic_threshold).
	// Zero means 50, Envoy's panic threshold default. There is no setting
	// that lets lag eject every replica: that sends every read to the
	// primary, the cascade this floor exists to stop.
	MinServingPercent int

	// MinServing is a floor in replicas, applied with MinServingPercent
	// (the larger wins, at most the number of replicas). Zero means none
	// beyond the percent; Vitess's min_number_serving_vttablets defaults
	// to 2. Negative is an error.
	MinServing int

	// SessionWindow, when positive, turns on session-window mode for
	// stores without positions: the Token of a write sends its session's
	// reads to the primary for SessionWindow after the write. Zero means
	// off. Negative is an error.
	SessionWindow time.Duration
}

// UnknownLag is how a replica whose lag is unknown counts for ejection.
// Reads carrying a Token are not affected: they go only to a replica whose
// last reported position reaches the Token, whatever its lag.
type UnknownLag int

const (
	// LagFromLastPosition measures the lag from the replica's last
	// reported position (from the moment it joined if it never reported
	// one): it grows while the primary moves on and stays zero while the
	// primary takes no writes. A stopped replica is ejected once it misses
	// more than MaxLag of writes.
	LagFromLastPosition UnknownLag = iota
	// LagUnknownServes keeps the replica serving.
	LagUnknownServes
	// LagUnknownEjects ejects the replica at once (the floor still
	// applies; such replicas are the last kept by it).
	LagUnknownEjects
)

func (u UnknownLag) String() string {
	switch u {
	case LagFromLastPosition:
		return "LagFromLastPosition"
	case LagUnknownServes:
		return "LagUnknownServes"
	case LagUnknownEjects:
		return "LagUnknownEjects"
	}
	return "UnknownLag(" + strconv.Itoa(int(u)) + ")"
}

// replicaSettings is a validated ReplicaConfig with defaults filled in.
type replicaSettings struct {
	interval     time.Duration
	minGap       time.Duration
	probeTimeout time.Duration
	maxWait      time.Duration
	maxLag       time.Duration
	unknown      UnknownLag
	minPct       int
	minServing   int
	window       time.Duration
}

func newReplicaSettings(cfg ReplicaConfig) (replicaSettings, error) {
	var s replicaSettings
	durs := []struct {
		name string
		v    time.Duration
		def  time.Duration
		out  *time.Duration
	}{
		{"ProbeInterval", cfg.ProbeInterval, 100 * time.Millisecond, &s.interval},
		{"ProbeTimeout", cfg.ProbeTimeout, time.Second, &s.probeTimeout},
		{"MaxWait", cfg.MaxWait, 20 * time.Millisecond, &s.maxWait},
		{"MaxLag", cfg.MaxLag, 30 * time.Second, &s.maxLag},
		{"SessionWindow", cfg.SessionWindow, 0, &s.window},
	}
	for _, d := range durs {
		if d.v < 0 {
			return s, configErrorf("ReplicaConfig.%s %v is negative", d.name, d.v)
		}
		*d.out = d.v
		if d.v == 0 {
			*d.out = d.def
		}
	}
	s.minGap = s.interval / 10
	switch cfg.UnknownLag {
	case LagFromLastPosition, LagUnknownServes, LagUnknownEjects:
		s.unknown = cfg.UnknownLag
	default:
		return s, configErrorf("ReplicaConfig.UnknownLag %d is not one of LagFromLastPosition, LagUnknownServes, LagUnknownEjects", int(cfg.UnknownLag))
	}
	if cfg.MinServingPercent < 0 || cfg.MinServingPercent > 100 {
		return s, configErrorf("ReplicaConfig.MinServingPercent %d outside [0,100]", cfg.MinServingPercent)
	}
	s.minPct = cfg.MinServingPercent
	if s.minPct == 0 {
		s.minPct = 50
	}
	if cfg.MinServing < 0 {
		return s, configErrorf("ReplicaConfig.MinServing %d is negative", cfg.MinServing)
	}
	s.minServing = cfg.MinServing
	return s, nil
}

// floor is the number of replicas out of n that lag may not take out of
// service.
func (s *replicaSettings) floor(n int) int {
	f := (n*s.minPct + 99) / 100
	f = max(f, s.minServing)
	return min(f, n)
}
