package main

import (
	"context"
	"maps"
	"slices"
	"sync"

	"github.com/bulwark-go/bulwark/shard"
)

// node is one shard: an in-memory map behind a mutex.
type node struct {
	mu   sync.Mutex // guards data
	data map[string]string
}

func (n *node) get(k string) (string, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	v, ok := n.data[k]
	return v, ok
}

func (n *node) put(k, v string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.data[k] = v
}

// putIfAbsent is the back-fill write of a migration: a value already written
// to the destination by a dual write is newer than the copy and must win.
func (n *node) putIfAbsent(k, v string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, ok := n.data[k]; !ok {
		n.data[k] = v
	}
}

func (n *node) remove(keep func(k string) bool) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	removed := 0
	for k := range n.data {
		if !keep(k) {
			delete(n.data, k)
			removed++
		}
	}
	return removed
}

// snapshot copies the node's data, so callers iterate without holding its lock.
func (n *node) snapshot() map[string]string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return maps.Clone(n.data)
}

func (n *node) len() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.data)
}

// cluster is a set of named shards behind a router. The router is swapped
// under the write side of routing; every read and write holds the read side
// for as long as it uses the router it loaded, so a swap waits until no
// operation still routes by the old map (the "epoch" a migration step needs).
type cluster struct {
	routing sync.RWMutex     // read: an operation in flight; write: a router swap
	router  shard.Router     // guarded by routing
	nodes   map[string]*node // guarded by routing; a *node guards its own data
}

func newCluster(r shard.Router, names ...string) *cluster {
	c := &cluster{router: r, nodes: map[string]*node{}}
	for _, n := range names {
		c.addNode(n)
	}
	return c
}

func (c *cluster) addNode(name string) {
	c.routing.Lock()
	defer c.routing.Unlock()
	if c.nodes[name] == nil {
		c.nodes[name] = &node{data: map[string]string{}}
	}
}

func (c *cluster) swap(r shard.Router) {
	c.routing.Lock()
	defer c.routing.Unlock()
	c.router = r
}

func (c *cluster) current() shard.Router {
	c.routing.RLock()
	defer c.routing.RUnlock()
	return c.router
}

// Put writes to the owner and, while the key's span migrates, to the target too.
func (c *cluster) Put(k, v string) {
	c.routing.RLock()
	defer c.routing.RUnlock()
	if r, ok := c.router.(*shard.Range); ok {
		owner, to := r.LocateWrite(k)
		c.nodes[owner].put(k, v)
		if to != "" {
			c.nodes[to].put(k, v)
		}
		return
	}
	c.nodes[c.router.Locate(k)].put(k, v)
}

// Get reads from the owner (during a migration, still the source).
func (c *cluster) Get(k string) (string, bool) {
	c.routing.RLock()
	defer c.routing.RUnlock()
	owner := c.router.Locate(k)
	if r, ok := c.router.(*shard.Range); ok {
		owner = r.LocateRead(k)
	}
	return c.nodes[owner].get(k)
}

// Count answers "how many keys in total?" by asking every shard at once.
func (c *cluster) Count(ctx context.Context) (int, error) {
	names := c.names()
	counts, err := shard.GatherAll(ctx, names, 2, func(ctx context.Context, name string) (int, error) {
		return c.node(name).len(), ctx.Err()
	})
	if err != nil {
		return 0, err
	}
	total := 0
	for _, n := range counts {
		total += n
	}
	return total, nil
}

func (c *cluster) names() []string {
	c.routing.RLock()
	defer c.routing.RUnlock()
	return slices.Sorted(maps.Keys(c.nodes))
}

func (c *cluster) node(name string) *node {
	c.routing.RLock()
	defer c.routing.RUnlock()
	return c.nodes[name]
}

// misplaced counts keys stored on a shard that does not own them.
func (c *cluster) misplaced() int {
	r := c.current()
	bad := 0
	for _, name := range c.names() {
		for k := range c.node(name).snapshot() {
			if r.Locate(k) != name {
				bad++
			}
		}
	}
	return bad
}
