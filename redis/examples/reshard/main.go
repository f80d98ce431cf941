// Command reshard moves keys between live Redis nodes while writers and
// readers run: four redis-server nodes behind a shard.Ring, a fifth joins,
// then one of the first four leaves. It starts the servers itself on free
// loopback ports and stops them by pid when it exits, on failure too.
//
// Each membership change follows the shard.Moves plan, key by key:
//
//  1. The router enters the move: writes of a moving key go to its new
//     owner; reads try the new owner, fall back to the old one, and try the
//     new one again (the copy lands before the source is deleted, so a key
//     missing from both reads was copied in between).
//  2. The key is copied with DUMP and RESTORE (without REPLACE: a write that
//     reached the new owner first is newer and stays) and deleted at the
//     source last. A per-key lock orders the copy with that key's writes.
//  3. When every moved key is across, the router leaves the move: the new
//     ring alone decides.
//
// It prints the keys per node before and after each change, the moved
// fraction (about 1/5 for a fifth node joining), and the checks: no key
// lost, no write lost, no stale read. It exits with status 1 when a key or
// an acknowledged write is lost, or a read saw an older value than one
// acknowledged before it started.
package main

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/redis/rueidis"

	"github.com/bulwark-go/bulwark/redis"
	"github.com/bulwark-go/bulwark/shard"
)

const (
	keys    = 5000
	writers = 8
	readers = 8
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "reshard:", err)
		os.Exit(1)
	}
}

// node is one Redis server as the resharding needs it: a small adapter over
// the node's rueidis client, whose reads go through the redis package's
// Store.
type node struct {
	name   string
	client rueidis.Client
	store  redis.Store
}

func (n *node) get(ctx context.Context, key string) (string, bool, error) {
	b, ok, err := n.store.Get(ctx, key)
	return string(b), ok, err
}

func (n *node) set(ctx context.Context, key, value string) error {
	return n.client.Do(ctx, n.client.B().Set().Key(key).Value(value).Build()).Error()
}

// copyTo copies key to dst with DUMP and RESTORE; a key dst already holds
// is left alone (it was written there during the move, so it is newer).
func (n *node) copyTo(ctx context.Context, dst *node, key string) error {
	dump, err := n.client.Do(ctx, n.client.B().Dump().Key(key).Build()).ToString()
	if rueidis.IsRedisNil(err) {
		return nil // nothing at the source: written at the new owner only
	}
	if err != nil {
		return err
	}
	err = dst.client.Do(ctx, dst.client.B().Restore().Key(key).Ttl(0).SerializedValue(dump).Build()).Error()
	if re, ok := rueidis.IsRedisErr(err); ok && strings.HasPrefix(re.Error(), "BUSYKEY") {
		return nil // written at the new owner during the move: newer than the copy
	}
	return err
}

func (n *node) del(ctx context.Context, key string) error {
	return n.client.Do(ctx, n.client.B().Del().Key(key).Build()).Error()
}

func (n *node) size(ctx context.Context) (int64, error) {
	return n.client.Do(ctx, n.client.B().Dbsize().Build()).AsInt64()
}

// placement is the router's state: the ring, and during a move the ring
// being moved to. It is immutable; a change swaps in a new one.
type placement struct {
	cur, next *shard.Ring
}

// writeOwner is where a write of key goes.
func (p *placement) writeOwner(key string) string {
	if p.next != nil {
		return p.next.Locate(key)
	}
	return p.cur.Locate(key)
}

// cluster routes reads and writes over the nodes and moves keys between
// them.
type cluster struct {
	nodes map[string]*node
	place atomic.Pointer[placement]
	locks [256]sync.Mutex // per-key stripes: a key's writes and its copy
	seed  maphash.Seed

	acked []atomic.Int64 // the latest acknowledged version of each key
	next  []int64        // the next version of each key, under its lock

	writes, reads, fallbacks, retries atomic.Int64
	lostReads, staleReads             atomic.Int64
	staleAfter                        atomic.Int64 // stale reads after a move completed
	moving                            atomic.Bool
}

func keyName(i int) string { return "user:" + strconv.Itoa(i) }

func (c *cluster) lock(key string) *sync.Mutex {
	return &c.locks[maphash.String(c.seed, key)%uint64(len(c.locks))]
}

// write writes the next version of key i at its owner.
func (c *cluster) write(ctx context.Context, i int) error {
	key := keyName(i)
	mu := c.lock(key)
	mu.Lock()
	defer mu.Unlock()
	p := c.place.Load() // under the key's lock: a copy of this key waits for the write
	v := c.next[i] + 1
	if err := c.nodes[p.writeOwner(key)].set(ctx, key, strconv.FormatInt(v, 10)); err != nil {
		return err
	}
	c.next[i] = v
	c.acked[i].Store(v)
	c.writes.Add(1)
	return nil
}

// read returns key i's value and whether it was found.
func (c *cluster) read(ctx context.Context, i int) (int64, bool, error) {
	key := keyName(i)
	for {
		p := c.place.Load()
		v, ok, err := c.readAt(ctx, p, key)
		if err != nil || ok || c.place.Load() == p {
			if !ok || err != nil {
				return 0, ok, err
			}
			n, err := strconv.ParseInt(v, 10, 64)
			return n, true, err
		}
		c.retries.Add(1) // missed while the placement changed: read again with the new one
	}
}

func (c *cluster) readAt(ctx context.Context, p *placement, key string) (string, bool, error) {
	owner := c.nodes[p.cur.Locate(key)]
	if p.next == nil {
		return owner.get(ctx, key)
	}
	dst := c.nodes[p.next.Locate(key)]
	if dst == owner {
		return owner.get(ctx, key)
	}
	if v, ok, err := dst.get(ctx, key); err != nil || ok {
		return v, ok, err
	}
	c.fallbacks.Add(1)
	if v, ok, err := owner.get(ctx, key); err != nil || ok {
		return v, ok, err
	}
	return dst.get(ctx, key) // copied between the two reads
}

// reshard moves the cluster to ring after, following shard.Moves.
func (c *cluster) reshard(ctx context.Context, after *shard.Ring) (moved int, err error) {
	before := c.place.Load().cur
	plan := slices.Collect(shard.Moves(before, after, func(yield func(string) bool) {
		for i := range keys {
			if !yield(keyName(i)) {
				return
			}
		}
	}))
	c.moving.Store(true)
	c.place.Store(&placement{cur: before, next: after})
	for k, m := range plan {
		mu := c.lock(m.Key)
		mu.Lock()
		err := c.nodes[m.From].copyTo(ctx, c.nodes[m.To], m.Key)
		if err == nil {
			err = c.nodes[m.From].del(ctx, m.Key) // the source goes last
		}
		mu.Unlock()
		if err != nil {
			return k, fmt.Errorf("moving %s from %s to %s: %w", m.Key, m.From, m.To, err)
		}
		if k%50 == 49 {
			time.Sleep(time.Millisecond) // let the traffic interleave with the move
		}
	}
	c.place.Store(&placement{cur: after})
	c.moving.Store(false)
	return len(plan), nil
}

func run(ctx context.Context) error {
	names := []string{"node-1", "node-2", "node-3", "node-4", "node-5"}
	servers, err := startServers(len(names))
	defer func() {
		for _, s := range servers {
			s.stop()
		}
	}()
	if err != nil {
		return err
	}
	c := &cluster{nodes: map[string]*node{}, seed: maphash.MakeSeed(),
		acked: make([]atomic.Int64, keys), next: make([]int64, keys)}
	for i, name := range names {
		client, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{servers[i].addr}, DisableCache: true})
		if err != nil {
			return err
		}
		defer client.Close()
		c.nodes[name] = &node{name: name, client: client, store: redis.Rueidis(client)}
	}
	four, err := shard.NewRing(names[:4], shard.RingConfig{})
	if err != nil {
		return err
	}
	five, err := four.With("node-5")
	if err != nil {
		return err
	}
	leaving := "node-2"
	afterLeave, err := five.Without(leaving)
	if err != nil {
		return err
	}
	c.place.Store(&placement{cur: four})

	for i := range keys {
		if err := c.write(ctx, i); err != nil {
			return err
		}
	}
	counts := [][]int64{}
	snapshot := func() error {
		row := make([]int64, len(names))
		for i, name := range names {
			if row[i], err = c.nodes[name].size(ctx); err != nil {
				return err
			}
		}
		counts = append(counts, row)
		return nil
	}
	if err := snapshot(); err != nil {
		return err
	}

	// Traffic: writers and readers on random keys until the end.
	trafficCtx, stopTraffic := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var trafficErr atomic.Pointer[error]
	fail := func(err error) {
		if trafficCtx.Err() == nil {
			trafficErr.CompareAndSwap(nil, &err)
			stopTraffic()
		}
	}
	for range writers {
		wg.Go(func() {
			for trafficCtx.Err() == nil {
				// ctx, not trafficCtx: a write cut off by the end of the
				// traffic could be applied yet not acknowledged.
				if err := c.write(ctx, rand.IntN(keys)); err != nil {
					fail(err)
				}
			}
		})
	}
	for range readers {
		wg.Go(func() {
			for trafficCtx.Err() == nil {
				i := rand.IntN(keys)
				want := c.acked[i].Load() // acknowledged before the read starts
				moving := c.moving.Load()
				v, ok, err := c.read(ctx, i)
				switch {
				case err != nil:
					fail(err)
				case !ok:
					c.lostReads.Add(1)
				case v < want:
					c.staleReads.Add(1)
					if !moving {
						c.staleAfter.Add(1)
					}
				}
				c.reads.Add(1)
			}
		})
	}

	pause := func() { time.Sleep(200 * time.Millisecond) }
	pause()
	start := time.Now()
	joined, err := c.reshard(ctx, five)
	if err != nil {
		fail(err)
	}
	joinTook := time.Since(start)
	pause()
	if err := snapshot(); err != nil {
		fail(err)
	}
	start = time.Now()
	left, err := c.reshard(ctx, afterLeave)
	if err != nil {
		fail(err)
	}
	leaveTook := time.Since(start)
	pause()
	stopTraffic()
	wg.Wait()
	if e := trafficErr.Load(); e != nil && !errors.Is(*e, context.Canceled) {
		return *e
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err := snapshot(); err != nil {
		return err
	}

	// Every key is at its final owner with its latest acknowledged write,
	// and nowhere else.
	final := c.place.Load().cur
	var lostKeys, lostWrites int
	for i := range keys {
		key := keyName(i)
		v, ok, err := c.nodes[final.Locate(key)].get(ctx, key)
		if err != nil {
			return err
		}
		switch {
		case !ok:
			lostKeys++
		case v != strconv.FormatInt(c.acked[i].Load(), 10):
			lostWrites++
		}
	}
	var stored int64
	for _, n := range counts[len(counts)-1] {
		stored += n
	}

	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "keys per node\t")
	for _, name := range names {
		fmt.Fprintf(tw, "%s\t", name)
	}
	fmt.Fprintln(tw)
	for i, label := range []string{"4 nodes", "node-5 joined", leaving + " left"} {
		fmt.Fprintf(tw, "%s\t", label)
		for _, n := range counts[i] {
			fmt.Fprintf(tw, "%d\t", n)
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
	fmt.Printf("\njoin:  moved %d of %d keys (%.3f; 1/5 = 0.200) in %v\n", joined, keys, float64(joined)/keys, joinTook.Round(time.Millisecond))
	fmt.Printf("leave: moved %d of %d keys (%.3f; 1/5 = 0.200) in %v\n", left, keys, float64(left)/keys, leaveTook.Round(time.Millisecond))
	fmt.Printf("traffic: %d writes, %d reads (%d fell back to the old owner, %d re-read after a placement change)\n\n",
		c.writes.Load(), c.reads.Load(), c.fallbacks.Load(), c.retries.Load())

	checks := []struct {
		name string
		bad  int64
	}{
		{"no key lost (final owner holds every key)", int64(lostKeys)},
		{"no key left behind (keys stored = keys)", stored - keys},
		{"no write lost (final value = latest acknowledged write)", int64(lostWrites)},
		{"no read missed a key", c.lostReads.Load()},
		{"no stale read after a move completed", c.staleAfter.Load()},
		{"no stale read during a move", c.staleReads.Load() - c.staleAfter.Load()},
	}
	failed := false
	for _, ch := range checks {
		mark := "ok  "
		if ch.bad != 0 {
			mark, failed = "FAIL", true
		}
		fmt.Printf("%s %s: %d\n", mark, ch.name, ch.bad)
	}
	if failed {
		return errors.New("a key, a write or a read went wrong")
	}
	return nil
}

// server is a redis-server started by this program.
type server struct {
	addr string
	cmd  *exec.Cmd
	dir  string
}

func (s *server) stop() {
	_ = s.cmd.Process.Kill() // by pid
	_ = s.cmd.Wait()
	_ = os.RemoveAll(s.dir)
}

// startServers starts n servers on free loopback ports, without
// persistence. It returns those it started even on error, for the caller
// to stop.
func startServers(n int) ([]*server, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, fmt.Errorf("put redis-server on PATH: %w", err)
	}
	var out []*server
	for range n {
		s, err := startServer(bin)
		if err != nil {
			return out, err
		}
		out = append(out, s)
	}
	return out, nil
}

func startServer(bin string) (*server, error) {
	for range 10 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
		l.Close()
		dir, err := os.MkdirTemp("", "reshard")
		if err != nil {
			return nil, err
		}
		cmd := exec.Command(bin, "--bind", "127.0.0.1", "--port", port, "--save", "", "--appendonly", "no", "--dir", dir)
		if err := cmd.Start(); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		s := &server{addr: "127.0.0.1:" + port, cmd: cmd, dir: dir}
		if ready(s.addr) {
			return s, nil
		}
		s.stop() // the port was taken meanwhile: try another
	}
	return nil, errors.New("could not start redis-server")
}

// ready waits up to 5 s for the server to answer PING.
func ready(addr string) bool {
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond); err == nil {
			_ = c.SetDeadline(time.Now().Add(time.Second))
			_, werr := c.Write([]byte("PING\r\n"))
			buf := make([]byte, 7)
			k, rerr := c.Read(buf)
			c.Close()
			if werr == nil && rerr == nil && string(buf[:k]) == "+PONG\r\n" {
				return true
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}
