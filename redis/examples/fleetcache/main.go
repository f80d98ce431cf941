// Command fleetcache runs several instances of a service — each with its
// own Redis client and its own two-level cache — against one Redis, and
// prints two tables: a stampede on one cold key across all of them (the
// origin is loaded once for the whole fleet), and an invalidation (a write
// through one instance reaches every instance's in-process cache).
//
// It uses the server at BULWARK_REDIS_ADDR, or starts its own redis-server
// on a free loopback port (and stops it at exit) when the binary is on PATH.
package main

import (
	"context"
	"fmt"
	"log"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/redis/rueidis"

	"github.com/bulwark-go/bulwark/cache"
	"github.com/bulwark-go/bulwark/redis"
)

const (
	instances = 4
	callers   = 50 // concurrent requests per instance
	key       = "product:42"
)

func main() {
	addr, stop, err := server()
	if err != nil {
		log.Fatal(err)
	}
	defer stop()
	if err := run(addr); err != nil {
		stop()
		log.Fatal(err)
	}
}

type instance struct {
	client      rueidis.Client
	cache       *redis.Cache[string]
	invalidated chan string
}

func run(addr string) error {
	ctx := context.Background()
	prefix := "fleetcache:" + strconv.FormatInt(time.Now().UnixNano(), 36) + ":"
	fleet := make([]*instance, instances)
	for i := range fleet {
		client, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{addr}, DisableCache: true})
		if err != nil {
			return err
		}
		defer client.Close()
		in := &instance{client: client, invalidated: make(chan string, 64)}
		up := make(chan struct{}, 1)
		c, err := redis.New(redis.Rueidis(client), redis.Config[string]{
			Prefix: prefix,
			Codec:  redis.String{},
			L1:     cache.Config[string, string]{Capacity: 1000, TTL: time.Minute},
			OnEvent: func(e redis.Event) {
				switch e.Kind {
				case redis.EventStreamUp:
					select {
					case up <- struct{}{}:
					default:
					}
				case redis.EventInvalidate:
					select {
					case in.invalidated <- e.Key:
					default:
					}
				}
			},
		})
		if err != nil {
			return err
		}
		defer c.Close()
		in.cache = c
		select {
		case <-up:
		case <-time.After(10 * time.Second):
			return fmt.Errorf("instance %d: no invalidation stream after 10s", i)
		}
		fleet[i] = in
	}

	// 1. A stampede: every instance misses the same cold key at once.
	var originLoads atomic.Int64
	load := func(ctx context.Context, k string) (string, error) {
		originLoads.Add(1)
		time.Sleep(50 * time.Millisecond) // a slow database query
		return "price=100", nil
	}
	var wg sync.WaitGroup
	start := make(chan struct{})
	var failed atomic.Int64
	for _, in := range fleet {
		for range callers {
			wg.Go(func() {
				<-start
				if v, err := in.cache.GetOrLoad(ctx, key, load); err != nil || v != "price=100" {
					failed.Add(1)
				}
			})
		}
	}
	close(start)
	wg.Wait()
	fmt.Printf("Stampede: %d instances × %d concurrent requests for the cold key %q\n\n", instances, callers, key)
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "instance\trequests\tloaded it\twaited for another\tread it from Redis\t")
	for i, in := range fleet {
		s := in.cache.Stats()
		fmt.Fprintf(tw, "%d\t%d\t%d\t%d\t%d\t\n", i, callers, s.FleetLoads, s.Waits, s.L2Hits)
	}
	tw.Flush()
	fmt.Printf("\norigin loads: %d for %d requests (plain cache-aside: one per instance, %d); failed requests: %d\n\n",
		originLoads.Load(), instances*callers, instances, failed.Load())

	// 2. An invalidation: instance 0 writes, every instance's L1 drops the key.
	before := make([]string, instances)
	for i, in := range fleet {
		var err error
		if before[i], err = in.cache.GetOrLoad(ctx, key, load); err != nil {
			return err
		}
		drain(in.invalidated)
	}
	if err := fleet[0].cache.Set(ctx, key, "price=90"); err != nil {
		return err
	}
	fmt.Printf("Invalidation: instance 0 sets %q to price=90\n\n", key)
	tw = tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "instance\tbefore\tinvalidated\tafter\t")
	for i, in := range fleet {
		got := "no"
		select {
		case <-in.invalidated:
			got = "yes"
		case <-time.After(5 * time.Second):
		}
		after, err := in.cache.GetOrLoad(ctx, key, load)
		if err != nil {
			return err
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t\n", i, before[i], got, after)
	}
	tw.Flush()
	fmt.Printf("\nthe writer included: its own L1 drops the key too, and the next read fetches it from Redis\n")
	if originLoads.Load() != 1 || failed.Load() != 0 {
		return fmt.Errorf("origin loads %d, failed %d: want 1 and 0", originLoads.Load(), failed.Load())
	}
	return nil
}

func drain(ch chan string) {
	for {
		select {
		case <-ch:
		default:
			return
		}
	}
}

// server returns the address of a Redis server: BULWARK_REDIS_ADDR, or one
// it starts on a free loopback port with no persistence, which stop kills.
func server() (addr string, stop func(), err error) {
	if addr := os.Getenv("BULWARK_REDIS_ADDR"); addr != "" {
		return addr, func() {}, nil
	}
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return "", nil, fmt.Errorf("set BULWARK_REDIS_ADDR or put redis-server on PATH: %w", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	dir, err := os.MkdirTemp("", "fleetcache")
	if err != nil {
		return "", nil, err
	}
	cmd := exec.Command(bin, "--bind", "127.0.0.1", "--port", strconv.Itoa(port),
		"--save", "", "--appendonly", "no", "--dir", dir)
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			_ = cmd.Process.Kill() // by pid: only the server started here
			_ = cmd.Wait()
			os.RemoveAll(dir)
		})
	}
	addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	for range 100 {
		if c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond); err == nil {
			c.Close()
			return addr, stop, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	stop()
	return "", nil, fmt.Errorf("redis-server on %s did not start", addr)
}
