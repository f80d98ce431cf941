package gameday

import (
	"fmt"
	"strconv"
	"time"

	"github.com/bulwark-go/bulwark/chaos"
)

// Scenario is one client game day: a fleet, a timeline of events that break
// and mend it, and how long the run lasts. The same Scenario and seed give
// every client the same faults.
type Scenario struct {
	Name  string // short, used in file names
	About string // one line for the report

	Nodes    []NodeSpec
	Duration time.Duration

	// FaultStart and FaultEnd bound the fault window. A steady scenario
	// (faulty from start to end) has FaultStart 0 and FaultEnd Duration, and
	// no time to recover is measured.
	FaultStart, FaultEnd time.Duration

	Events []Event

	// Hedge makes the failsafe-go client add its hedge policy: the
	// scenarios where the cost is latency, not errors.
	Hedge bool
}

// Steady reports whether the scenario's faults last the whole run.
func (s Scenario) Steady() bool { return s.FaultStart == 0 && s.FaultEnd >= s.Duration }

// Event is one change of the fleet at a moment of the run.
type Event struct {
	At   time.Duration
	What string
	Do   func(*fleet) error
}

func kill(names ...string) func(*fleet) error {
	return func(f *fleet) error {
		for _, n := range names {
			f.node(n).kill()
		}
		return nil
	}
}

func revive(names ...string) func(*fleet) error {
	return func(f *fleet) error {
		for _, n := range names {
			if err := f.node(n).revive(); err != nil {
				return err
			}
		}
		return nil
	}
}

// switchFaults turns fault i of each named node on or off.
func switchFaults(on bool, i int, names ...string) func(*fleet) error {
	return func(f *fleet) error {
		for _, n := range names {
			in := f.node(n).fault(i)
			if on {
				in.Enable()
			} else {
				in.Disable()
			}
		}
		return nil
	}
}

// healthy returns n plain backends named prefix-1 … prefix-n.
func healthy(prefix string, n int) []NodeSpec {
	out := make([]NodeSpec, n)
	for i := range out {
		out[i] = NodeSpec{Name: fmt.Sprintf("%s-%d", prefix, i+1)}
	}
	return out
}

// Scenarios returns the client game days, their times multiplied by scale (1
// is the full game day; the short one in the tests uses less).
//
// Every fleet has five backends with a 1–3 ms service time. The transient
// scenarios run healthy for a warm-up, break during the fault window, and
// run healthy again so that the time to recover can be read; the two fleets
// of the fleet example are faulty from start to end.
func Scenarios(scale float64) []Scenario {
	d := func(x time.Duration) time.Duration { return time.Duration(float64(x) * scale) }
	secs := func(x time.Duration) string { return strconv.FormatFloat(d(x).Seconds(), 'g', 3, 64) + " s" }
	warm, recover := d(2*time.Second), d(5*time.Second)
	transient := func(name, about string, nodes []NodeSpec, fault time.Duration, start, end func(*fleet) error) Scenario {
		return Scenario{
			Name: name, About: about, Nodes: nodes,
			Duration:   warm + fault + recover,
			FaultStart: warm, FaultEnd: warm + fault,
			Events: []Event{
				{At: warm, What: "fault starts", Do: start},
				{At: warm + fault, What: "fault ends", Do: end},
			},
		}
	}
	var out []Scenario

	out = append(out, transient("dead-node",
		"one of five backends crashes (port closed) for "+secs(8*time.Second)+", then comes back",
		healthy("node", 5), d(8*time.Second), kill("node-5"), revive("node-5")))

	slowNodes := healthy("node", 5)
	slowNodes[4].Faults = []chaos.Config{
		off(spikes(1, 20*time.Millisecond)),
		off(spikes(0.10, 500*time.Millisecond)),
	}
	slow := transient("slow-node",
		"one backend turns slow for "+secs(8*time.Second)+": +20 ms on every request, +500 ms on 10%",
		slowNodes, d(8*time.Second), both(switchFaults(true, 0, "node-5"), switchFaults(true, 1, "node-5")),
		both(switchFaults(false, 0, "node-5"), switchFaults(false, 1, "node-5")))
	slow.Hedge = true
	out = append(out, slow)

	flakyNodes := healthy("node", 5)
	flakyNodes[4].Faults = []chaos.Config{off(unavailable(0.5, time.Second))}
	out = append(out, transient("flaky-node",
		"one backend answers 50% of requests 503 with Retry-After: 1 for "+secs(8*time.Second),
		flakyNodes, d(8*time.Second), switchFaults(true, 0, "node-5"), switchFaults(false, 0, "node-5")))

	// The brownout: two backends' latency climbs by 40 ms a second for 10 s
	// (ten stacked 40 ms Latency injectors switched on one a second), then
	// every injector is switched off at once.
	const steps = 10
	brownNodes := healthy("node", 5)
	for _, i := range []int{3, 4} {
		for range steps {
			brownNodes[i].Faults = append(brownNodes[i].Faults, off(spikes(1, 40*time.Millisecond)))
		}
	}
	brown := Scenario{
		Name:  "brownout",
		About: "two backends' latency climbs by 40 ms every " + secs(time.Second) + " for " + secs(10*time.Second) + " (to +400 ms), then recovers",
		Nodes: brownNodes, Duration: warm + d(10*time.Second) + recover,
		FaultStart: warm, FaultEnd: warm + d(10*time.Second),
		Hedge: true,
	}
	for i := range steps {
		brown.Events = append(brown.Events, Event{
			At: warm + d(time.Duration(i)*time.Second), What: fmt.Sprintf("+40 ms (step %d)", i+1),
			Do: switchFaults(true, i, "node-4", "node-5"),
		})
	}
	brown.Events = append(brown.Events, Event{At: brown.FaultEnd, What: "latency back to normal", Do: func(f *fleet) error {
		for i := range steps {
			if err := switchFaults(false, i, "node-4", "node-5")(f); err != nil {
				return err
			}
		}
		return nil
	}})
	out = append(out, brown)

	all := []string{"node-1", "node-2", "node-3", "node-4", "node-5"}
	outage := transient("outage",
		"every backend is down (ports closed) for "+secs(5*time.Second)+", then all come back",
		healthy("node", 5), d(5*time.Second), kill(all...), revive(all...))
	outage.Duration += d(3 * time.Second) // recovery is the point: watch it longer
	out = append(out, outage)

	halfNodes := healthy("node", 5)
	for i := range halfNodes {
		halfNodes[i].Faults = []chaos.Config{off(unavailable(0.5, 0))}
	}
	on, offAll := func(f *fleet) error { return switchFaults(true, 0, all...)(f) }, func(f *fleet) error { return switchFaults(false, 0, all...)(f) }
	out = append(out, transient("half-failing",
		"every backend answers 50% of requests 503 for "+secs(8*time.Second)+" (retry-storm risk)",
		halfNodes, d(8*time.Second), on, offAll))

	steady := d(10 * time.Second)
	out = append(out, Scenario{
		Name:  "fleet-example",
		About: "the fleet example's fleet: 2 healthy, slow (10% spike to 300 ms), flaky (30% 503 Retry-After: 1), dead",
		Nodes: []NodeSpec{
			{Name: "healthy-1"}, {Name: "healthy-2"},
			{Name: "slow", Faults: []chaos.Config{spikes(0.10, 300*time.Millisecond)}},
			{Name: "flaky", Faults: []chaos.Config{unavailable(0.30, time.Second)}},
			{Name: "dead", Dead: true},
		},
		Duration: steady, FaultEnd: steady,
	})
	out = append(out, Scenario{
		Name:  "fleet-hard",
		About: "the harder fleet: 1 healthy, slow (10% spike to 300 ms), flaky (50% 503 Retry-After: 1), 2 dead",
		Nodes: []NodeSpec{
			{Name: "healthy"},
			{Name: "slow", Faults: []chaos.Config{spikes(0.10, 300*time.Millisecond)}},
			{Name: "flaky", Faults: []chaos.Config{unavailable(0.50, time.Second)}},
			{Name: "dead-1", Dead: true}, {Name: "dead-2", Dead: true},
		},
		Duration: steady, FaultEnd: steady,
	})
	return out
}

func both(a, b func(*fleet) error) func(*fleet) error {
	return func(f *fleet) error {
		if err := a(f); err != nil {
			return err
		}
		return b(f)
	}
}

// ScenarioNamed returns the scenario of Scenarios(scale) with that name.
func ScenarioNamed(name string, scale float64) (Scenario, error) {
	var names []string
	for _, s := range Scenarios(scale) {
		if s.Name == name {
			return s, nil
		}
		names = append(names, s.Name)
	}
	return Scenario{}, fmt.Errorf("gameday: scenario %q unknown; want one of %v", name, names)
}
