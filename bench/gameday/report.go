package gameday

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/bulwark-go/bulwark/bench/internal/svg"
)

// Report is everything one game day produced.
type Report struct {
	Meta      Meta          `json:"meta"`
	Scenarios []Scenario    `json:"-"`
	Client    []Result      `json:"client"`
	Server    []ServerRun   `json:"server"`
	ServerCfg ServerOptions `json:"server_options"`
}

// Meta says when and how a game day ran.
type Meta struct {
	Date       string  `json:"date"`
	Command    string  `json:"command"`
	GoVersion  string  `json:"go"`
	CPUs       int     `json:"cpus"`
	GOMAXPROCS int     `json:"gomaxprocs"`
	Rate       float64 `json:"rate_rps"`
	Seed       uint64  `json:"seed"`
	Scale      float64 `json:"scale"`
	Note       string  `json:"note,omitempty"`
}

// WriteReport writes r into dir: gameday.json (everything, series
// included), client.csv, client-series.csv, server.csv, server-series.csv,
// README.md (the tables) and one SVG per scenario plus server.svg.
func WriteReport(dir string, r Report) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	files := map[string][]byte{}
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	files["gameday.json"] = append(js, '\n')
	files["client.csv"] = clientCSV(r.Client)
	files["client-series.csv"] = clientSeriesCSV(r.Client)
	if len(r.Server) > 0 {
		files["server.csv"] = serverCSV(r.Server)
		files["server-series.csv"] = serverSeriesCSV(r.Server)
		var b bytes.Buffer
		if err := serverSVG(&b, r.Server); err != nil {
			return err
		}
		files["server.svg"] = b.Bytes()
	}
	var md bytes.Buffer
	Markdown(&md, r)
	files["README.md"] = md.Bytes()
	for _, sc := range r.Scenarios {
		var b bytes.Buffer
		rs := resultsOf(r.Client, sc.Name)
		if len(rs) == 0 {
			continue
		}
		if err := scenarioSVG(&b, sc, rs); err != nil {
			return err
		}
		files[sc.Name+".svg"] = b.Bytes()
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

func resultsOf(rs []Result, scenario string) []Result {
	var out []Result
	for _, r := range rs {
		if r.Scenario == scenario {
			out = append(out, r)
		}
	}
	return out
}

func f64(x float64, prec int) string { return strconv.FormatFloat(x, 'f', prec, 64) }

func writeCSV(rows [][]string) []byte {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	_ = w.WriteAll(rows) // a bytes.Buffer does not fail
	return b.Bytes()
}

func clientCSV(rs []Result) []byte {
	rows := [][]string{{"scenario", "client", "requests", "succeeded", "success_rate", "fault_success_rate",
		"p50_ms", "p99_ms", "p999_ms", "fault_p99_ms", "sent", "served", "amplification", "recovery_ms", "recovered"}}
	for _, r := range rs {
		rows = append(rows, []string{r.Scenario, string(r.Client), strconv.Itoa(r.Requests), strconv.Itoa(r.Succeeded),
			f64(r.SuccessRate, 5), f64(r.FaultSuccessRate, 5), f64(r.P50, 2), f64(r.P99, 2), f64(r.P999, 2), f64(r.FaultP99, 2),
			strconv.FormatInt(r.Sent, 10), strconv.FormatInt(r.Served, 10), f64(r.Amplification, 4),
			f64(r.RecoveryMs, 0), strconv.FormatBool(r.Recovered)})
	}
	return writeCSV(rows)
}

func clientSeriesCSV(rs []Result) []byte {
	rows := [][]string{{"scenario", "client", "t_s", "requests", "success_rate", "p99_ms"}}
	for _, r := range rs {
		for _, p := range r.Series {
			rows = append(rows, []string{r.Scenario, string(r.Client), f64(p.T, 3), strconv.Itoa(p.Requests), f64(p.SuccessRate, 5), f64(p.P99, 2)})
		}
	}
	return writeCSV(rows)
}

func serverCSV(runs []ServerRun) []byte {
	rows := [][]string{{"guard", "capacity_rps", "phase", "load", "offered_rps", "goodput_rps", "p99_ms", "shed_rate", "timeout_rate", "recovery_ms", "recovered"}}
	for _, r := range runs {
		for _, p := range r.Phases {
			rows = append(rows, []string{r.Guard, f64(r.Capacity, 0), p.Name, f64(p.Load, 2), f64(p.Offered, 1), f64(p.Goodput, 1),
				f64(p.P99, 2), f64(p.ShedRate, 4), f64(p.Timeouts, 4), f64(r.RecoveryMs, 0), strconv.FormatBool(r.Recovered)})
		}
	}
	return writeCSV(rows)
}

func serverSeriesCSV(runs []ServerRun) []byte {
	rows := [][]string{{"guard", "t_s", "offered_rps", "goodput_rps", "p99_ms", "shed_rate"}}
	for _, r := range runs {
		for _, p := range r.Series {
			rows = append(rows, []string{r.Guard, f64(p.T, 3), f64(p.Offered, 1), f64(p.Goodput, 1), f64(p.P99, 2), f64(p.ShedRate, 4)})
		}
	}
	return writeCSV(rows)
}

func pct(x float64) string { return f64(100*x, 2) + "%" }

func recoveryText(ms float64, ok bool) string {
	switch {
	case ms < 0:
		return "—"
	case !ok:
		return fmt.Sprintf("> %s s", f64(ms/1000, 2))
	}
	return f64(ms/1000, 2) + " s"
}

// Markdown writes the game day's tables: one per client scenario, the
// fleets' comparison, and one per server load phase.
func Markdown(w io.Writer, r Report) {
	m := r.Meta
	fmt.Fprintf(w, "# Game day results\n\n")
	fmt.Fprintf(w, "    date: %s\n    command (in bench/): %s\n    %s, %d CPUs, GOMAXPROCS %d; %g requests/s open loop; seed %d; time scale %g\n\n",
		m.Date, m.Command, m.GoVersion, m.CPUs, m.GOMAXPROCS, m.Rate, m.Seed, m.Scale)
	if m.Note != "" {
		fmt.Fprintf(w, "%s\n\n", m.Note)
	}
	fmt.Fprintf(w, "Success: a 200 with its body read in full. Latency: every request, failures included, as the caller waited. "+
		"Amplification: requests handed to the network (a refused connection counts) ÷ requests made. "+
		"Recovery: from the end of the fault until the client's success rate and p99 are back near its own warm-up's for a second (— for a fleet that stays faulty).\n\n")
	if len(r.Client) > 0 {
		fmt.Fprintf(w, "## Client game days\n\n")
	}
	for _, sc := range r.Scenarios {
		rs := resultsOf(r.Client, sc.Name)
		if len(rs) == 0 {
			continue
		}
		fmt.Fprintf(w, "### %s\n\n%s. ", sc.Name, sc.About)
		if sc.Steady() {
			fmt.Fprintf(w, "Faulty from start to end (%s s).\n\n", f64(sc.Duration.Seconds(), 1))
		} else {
			fmt.Fprintf(w, "Fault from %s s to %s s of %s s. ![%s](%s.svg)\n\n", f64(sc.FaultStart.Seconds(), 1),
				f64(sc.FaultEnd.Seconds(), 1), f64(sc.Duration.Seconds(), 1), sc.Name, sc.Name)
		}
		fmt.Fprintf(w, "| client | success | success in fault | p50 | p99 | p99.9 | p99 in fault | amplification | recovery |\n")
		fmt.Fprintf(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
		for _, x := range rs {
			fmt.Fprintf(w, "| %s | %s | %s | %s ms | %s ms | %s ms | %s ms | %s | %s |\n", x.Client, pct(x.SuccessRate), pct(x.FaultSuccessRate),
				f64(x.P50, 1), f64(x.P99, 1), f64(x.P999, 1), f64(x.FaultP99, 1), f64(x.Amplification, 3), recoveryText(x.RecoveryMs, x.Recovered))
		}
		fmt.Fprintln(w)
		if v := verdicts(rs, Bulwark); len(v) > 0 {
			fmt.Fprintf(w, "Where bulwark is behind: %s.\n\n", strings.Join(v, "; "))
		}
		if v := verdicts(rs, BulwarkHedge); len(v) > 0 {
			fmt.Fprintf(w, "Where bulwark+hedge is behind: %s.\n\n", strings.Join(v, "; "))
		}
	}
	fleets := slices.DeleteFunc(slices.Clone(r.Scenarios), func(s Scenario) bool { return !strings.HasPrefix(s.Name, "fleet-") })
	var fleetResults []Result
	for _, sc := range fleets {
		fleetResults = append(fleetResults, resultsOf(r.Client, sc.Name)...)
	}
	if cols := clientsOf(fleetResults); len(cols) > 0 {
		fmt.Fprintf(w, "### The fleets side by side\n\n| fleet |")
		for _, c := range cols {
			fmt.Fprintf(w, " %s |", c)
		}
		fmt.Fprintf(w, "\n|---|%s\n", strings.Repeat("---|", len(cols)))
		for _, sc := range fleets {
			fmt.Fprintf(w, "| %s |", sc.Name)
			rs := resultsOf(r.Client, sc.Name)
			for _, c := range cols {
				i := slices.IndexFunc(rs, func(x Result) bool { return x.Client == c })
				if i < 0 {
					fmt.Fprintf(w, " |")
					continue
				}
				x := rs[i]
				fmt.Fprintf(w, " %s, p99 %s ms, ×%s |", pct(x.SuccessRate), f64(x.P99, 1), f64(x.Amplification, 2))
			}
			fmt.Fprintln(w)
		}
		fmt.Fprintln(w)
	}
	if len(r.Server) > 0 {
		o := r.ServerCfg.withDefaults()
		fmt.Fprintf(w, "## Server game day\n\n")
		fmt.Fprintf(w, "A service of %d workers (service time %s ±20%%, unbounded FIFO queue), measured capacity %s requests/s; "+
			"open-loop arrivals at %s of it for %s s each, then %s s back at the first load. Goodput: successes within %s per second. "+
			"Callers give up after %s. Recovery: from the start of the last phase until 99%% of arrivals succeed within the target "+
			"and the p99 is within twice the first phase's, for a second. ![server](server.svg)\n\n",
			o.Workers, o.ServiceTime, f64(r.Server[0].Capacity, 0), loadsText(o.Loads), f64(o.Phase.Seconds(), 1),
			f64(o.Recovery.Seconds(), 1), o.Target, o.Timeout)
		for i, p := range r.Server[0].Phases {
			fmt.Fprintf(w, "### %s load\n\n| guard | offered | goodput | p99 of successes | shed | timed out |", p.Name)
			last := i == len(r.Server[0].Phases)-1
			if last {
				fmt.Fprintf(w, " back to normal |")
			}
			fmt.Fprintf(w, "\n|---|---:|---:|---:|---:|---:|%s\n", map[bool]string{true: "---:|"}[last])
			for _, run := range r.Server {
				q := run.Phases[i]
				fmt.Fprintf(w, "| %s | %s | %s | %s ms | %s | %s |", run.Guard, f64(q.Offered, 0), f64(q.Goodput, 0), f64(q.P99, 1), pct(q.ShedRate), pct(q.Timeouts))
				if last {
					fmt.Fprintf(w, " %s |", recoveryText(run.RecoveryMs, run.Recovered))
				}
				fmt.Fprintln(w)
			}
			fmt.Fprintln(w)
		}
	}
}

func loadsText(loads []float64) string {
	var s []string
	for _, l := range loads {
		s = append(s, f64(100*l, 0)+"%")
	}
	return strings.Join(s, ", ")
}

func clientsOf(rs []Result) []Client {
	var out []Client
	for _, r := range rs {
		if !slices.Contains(out, r.Client) {
			out = append(out, r.Client)
		}
	}
	return out
}

// verdicts lists where the bulwark client c does worse than a peer, beyond
// a small tolerance (0.1 point of success rate, 5% of p99, 0.01 of
// amplification).
func verdicts(rs []Result, c Client) []string {
	i := slices.IndexFunc(rs, func(r Result) bool { return r.Client == c })
	if i < 0 {
		return nil
	}
	b := rs[i]
	var out []string
	for _, p := range rs {
		if p.Client == Bulwark || p.Client == BulwarkHedge || p.Client == Plain {
			continue
		}
		if p.SuccessRate > b.SuccessRate+0.001 {
			out = append(out, fmt.Sprintf("%s succeeds %s points more", p.Client, f64(100*(p.SuccessRate-b.SuccessRate), 2)))
		}
		if b.P99 > 1.05*p.P99 {
			out = append(out, fmt.Sprintf("%s's p99 is %s ms lower", p.Client, f64(b.P99-p.P99, 1)))
		}
		if b.Amplification > p.Amplification+0.01 {
			out = append(out, fmt.Sprintf("%s sends %s fewer requests per request", p.Client, f64(b.Amplification-p.Amplification, 3)))
		}
	}
	return out
}

// scenarioSVG draws success rate and p99 over time, one line per client,
// side by side. p99 is capped at the per-request timeout's scale so that one
// client's stalls do not flatten the others' lines.
func scenarioSVG(w io.Writer, sc Scenario, rs []Result) error {
	window := ""
	if !sc.Steady() {
		window = fmt.Sprintf(" (fault %s–%s s)", f64(sc.FaultStart.Seconds(), 1), f64(sc.FaultEnd.Seconds(), 1))
	}
	success := svg.Plot{Title: sc.Name + ": success rate" + window, XLabel: "time (s)", YLabel: "success (%)", YMin: 0, YMax: 100}
	const p99Cap = 1000.0
	p99 := svg.Plot{Title: sc.Name + ": p99 latency" + window, XLabel: "time (s)", YLabel: "p99 (ms, capped at 1000)"}
	for _, r := range rs {
		var s, l []svg.Point
		for _, p := range r.Series {
			if p.Requests == 0 {
				continue
			}
			s = append(s, svg.Point{X: p.T, Y: 100 * p.SuccessRate})
			l = append(l, svg.Point{X: p.T, Y: min(p.P99, p99Cap)})
		}
		success.Series = append(success.Series, svg.Series{Name: string(r.Client), Points: s})
		p99.Series = append(p99.Series, svg.Series{Name: string(r.Client), Points: l})
	}
	return svg.Grid(w, 2, success, p99)
}

func serverSVG(w io.Writer, runs []ServerRun) error {
	good := svg.Plot{Title: "server: goodput within target over time", XLabel: "time (s)", YLabel: "goodput (requests/s)"}
	const p99Cap = 250.0
	p99 := svg.Plot{Title: "server: p99 of successes over time", XLabel: "time (s)", YLabel: "p99 (ms, capped at 250)"}
	for _, r := range runs {
		var g, l []svg.Point
		for _, p := range r.Series {
			g = append(g, svg.Point{X: p.T, Y: p.Goodput})
			if p.P99 > 0 {
				l = append(l, svg.Point{X: p.T, Y: min(p.P99, p99Cap)})
			}
		}
		good.Series = append(good.Series, svg.Series{Name: r.Guard, Points: g})
		p99.Series = append(p99.Series, svg.Series{Name: r.Guard, Points: l})
	}
	return svg.Grid(w, 2, good, p99)
}
