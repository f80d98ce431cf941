// Command cmd runs bulwark's game days — every client scenario with the four
// clients, then the server game day with every guard — and writes the raw
// data, the tables and the charts into a folder.
//
//	cd bench && go run ./gameday/cmd [-out results/gameday] [-scenarios dead-node,outage] [-clients plain,bulwark] [-server=false]
//
// The full run takes about ten minutes. Its latencies are only as good as
// the machine is quiet: run it on an idle machine before publishing.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"time"

	"github.com/bulwark-go/bulwark/bench/gameday"
)

func main() {
	out := flag.String("out", "results/gameday", "folder for the results")
	scale := flag.Float64("scale", 1, "multiplies every scenario's and phase's duration")
	rate := flag.Float64("rate", 400, "client game days: requests per second, open loop")
	seed := flag.Uint64("seed", 1, "seed of the injected faults")
	only := flag.String("scenarios", "", "comma-separated client scenarios to run (default all)")
	clientDays := flag.Bool("client", true, "run the client game days")
	serverDay := flag.Bool("server", true, "run the server game day")
	guards := flag.String("guards", "", "comma-separated server guards to run (default all)")
	clients := flag.String("clients", "", "comma-separated clients of the client game days (default all)")
	note := flag.String("note", "", "a line for the top of the report (e.g. that the machine was shared)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *out, *scale, *rate, *seed, *only, *clients, *clientDays, *serverDay, *guards, *note); err != nil {
		fmt.Fprintln(os.Stderr, "gameday:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out string, scale, rate float64, seed uint64, only, clients string, clientDays, serverDay bool, guards, note string) error {
	if scale <= 0 || rate <= 0 {
		return fmt.Errorf("-scale %g and -rate %g must be positive", scale, rate)
	}
	r := gameday.Report{Meta: gameday.Meta{
		Date:       time.Now().UTC().Format("2006-01-02T15:04Z"),
		Command:    "go run ./gameday/cmd " + strings.Join(os.Args[1:], " "),
		GoVersion:  runtime.Version(),
		CPUs:       runtime.NumCPU(),
		GOMAXPROCS: runtime.GOMAXPROCS(0),
		Rate:       rate, Seed: seed, Scale: scale, Note: note,
	}}
	if clientDays {
		for _, sc := range gameday.Scenarios(scale) {
			if only != "" && !contains(only, sc.Name) {
				continue
			}
			fmt.Fprintf(os.Stderr, "== %s (%v per client)\n", sc.Name, sc.Duration)
			opts := gameday.Options{Rate: rate, Seed: seed}
			if clients != "" {
				for _, c := range strings.Split(clients, ",") {
					opts.Clients = append(opts.Clients, gameday.Client(strings.TrimSpace(c)))
				}
			}
			rs, err := gameday.RunScenario(ctx, sc, opts)
			if err != nil {
				return err
			}
			for _, x := range rs {
				fmt.Fprintf(os.Stderr, "   %-24s success %7.3f%%  p99 %7.1f ms  amplification %.3f\n", x.Client, 100*x.SuccessRate, x.P99, x.Amplification)
			}
			r.Scenarios = append(r.Scenarios, sc)
			r.Client = append(r.Client, rs...)
		}
	}
	if serverDay {
		d := func(x time.Duration) time.Duration { return time.Duration(float64(x) * scale) }
		opts := gameday.ServerOptions{Phase: d(4 * time.Second), Recovery: d(6 * time.Second), Calibrate: d(2 * time.Second), Seed: seed}
		if guards != "" {
			opts.Guards = strings.Split(guards, ",")
		}
		r.ServerCfg = opts
		capacity := gameday.MeasureCapacity(ctx, opts)
		fmt.Fprintf(os.Stderr, "== server: measured capacity %.0f requests/s\n", capacity)
		list := opts.Guards
		if list == nil {
			list = gameday.Guards
		}
		for _, g := range list {
			run, err := gameday.RunServer(ctx, g, capacity, opts)
			if err != nil {
				return err
			}
			last := run.Phases[len(run.Phases)-2]
			fmt.Fprintf(os.Stderr, "   %-14s at %s: goodput %6.0f/s  p99 %6.1f ms  shed %5.1f%%\n", g, last.Name, last.Goodput, last.P99, 100*last.ShedRate)
			r.Server = append(r.Server, run)
		}
	}
	if err := gameday.WriteReport(out, r); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "wrote %s\n", out)
	return nil
}

func contains(list, name string) bool {
	for _, s := range strings.Split(list, ",") {
		if strings.TrimSpace(s) == name {
			return true
		}
	}
	return false
}
