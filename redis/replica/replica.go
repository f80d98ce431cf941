// Package replica reads Redis replication positions, the probes that
// balance.ReplicaRouter needs to route reads to replicas with
// read-your-writes and lag-aware ejection.
//
// A primary's position is master_repl_offset and a replica's is
// slave_repl_offset, both from INFO replication: byte offsets into the
// primary's replication stream, so a replica whose offset has reached the
// primary's offset read just after a write has applied that write. The
// three-line use, with one rueidis client per node (your TLS, ACL user):
//
//	topo := balance.Topology[string]{
//		Primary:  balance.Member[string]{Node: "10.0.0.1:6379", Position: replica.Primary(replica.Rueidis(primary))},
//		Replicas: []balance.Member[string]{{Node: "10.0.0.2:6379", Position: replica.Replica(replica.Rueidis(r1))}},
//	}
//	router, err := balance.NewReplicaRouter(topo, nil, balance.ReplicaConfig{MaxLag: 5 * time.Second})
//	tok, err := router.Write(ctx, func(ctx context.Context, node string) error { return set(ctx, node) })
//	err = router.Read(ctx, tok, func(ctx context.Context, node string) error { return get(ctx, node) }) // sees the write
//
// Primary and Replica are the calls most users want. The probes reach
// Redis only through the one-method Infoer interface, so another client is
// an adapter of INFO. What a server answers is untrusted: a reply that is
// not an INFO replication section, a node in the wrong role, or a replica
// that has not completed its first synchronisation is an error, never a
// position, so a router never routes a read on a position that does not
// hold.
//
// The probes and adapters are safe for concurrent use.
package replica

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/redis/rueidis"

	"github.com/bulwark-go/bulwark/balance"
)

// Infoer is what the probes need from a Redis client: the text of INFO
// section on one node. It must return by the time ctx ends.
type Infoer interface {
	Info(ctx context.Context, section string) (string, error)
}

// Rueidis adapts a rueidis client of one node (standalone: a client of a
// cluster would answer from any node) to an Infoer. It never closes the
// client.
func Rueidis(c rueidis.Client) Infoer { return rueidisInfoer{c} }

type rueidisInfoer struct{ c rueidis.Client }

func (r rueidisInfoer) Info(ctx context.Context, section string) (string, error) {
	return r.c.Do(ctx, r.c.B().Info().Section(section).Build()).ToString()
}

// ErrRole is matched by a probe's error when the node is not in the role
// the probe reads: a Primary probe of a replica or a Replica probe of a
// primary, which is what a failover looks like from here. Update the
// router's topology.
var ErrRole = errors.New("replica: node in the wrong role")

// ErrNotSynced is matched by a Replica probe's error while the replica has
// not completed a synchronisation with its primary (its offset then means
// nothing) or is running a full resynchronisation.
var ErrNotSynced = errors.New("replica: replica not synchronised")

// ErrMalformed is matched by the error of Parse and of the probes when the
// reply is not a readable INFO replication section.
var ErrMalformed = errors.New("replica: malformed INFO replication")

// Primary returns the probe of a primary: master_repl_offset. It fails
// with ErrRole if the node is a replica.
func Primary(c Infoer) func(context.Context) (balance.Position, error) {
	return func(ctx context.Context) (balance.Position, error) {
		r, err := read(ctx, c)
		if err != nil {
			return 0, err
		}
		if r.Role != "master" {
			return 0, fmt.Errorf("%w: role %s, want master", ErrRole, r.Role)
		}
		return balance.Position(r.MasterReplOffset), nil
	}
}

// Replica returns the probe of a replica: slave_repl_offset, the offset it
// has applied. It fails with ErrRole if the node is a primary and with
// ErrNotSynced while its offset does not describe its data. A replica whose
// link to the primary is down after a synchronisation still reports the
// offset it has applied, which stays true; the router measures its lag
// growing while the primary moves on.
func Replica(c Infoer) func(context.Context) (balance.Position, error) {
	return func(ctx context.Context) (balance.Position, error) {
		r, err := read(ctx, c)
		if err != nil {
			return 0, err
		}
		if r.Role != "slave" {
			return 0, fmt.Errorf("%w: role %s, want slave", ErrRole, r.Role)
		}
		if r.SyncInProgress {
			return 0, fmt.Errorf("%w: master_sync_in_progress:1", ErrNotSynced)
		}
		if !r.LinkUp && r.LinkDownSince < 0 {
			return 0, fmt.Errorf("%w: master_link_status:down and never up", ErrNotSynced)
		}
		if r.SlaveReplOffset < 0 {
			return 0, fmt.Errorf("%w: slave_repl_offset %d", ErrNotSynced, r.SlaveReplOffset)
		}
		return balance.Position(r.SlaveReplOffset), nil
	}
}

func read(ctx context.Context, c Infoer) (Replication, error) {
	text, err := c.Info(ctx, "replication")
	if err != nil {
		return Replication{}, err
	}
	return Parse(text)
}

// Replication is what Parse reads from INFO replication.
type Replication struct {
	// Role is "master" or "slave".
	Role string
	// MasterReplID is the replication ID whose stream the offsets count.
	MasterReplID string
	// MasterReplOffset is the node's offset as a primary (master_repl_offset).
	MasterReplOffset int64
	// SlaveReplOffset is a replica's applied offset (slave_repl_offset), -1
	// on a primary.
	SlaveReplOffset int64
	// LinkUp reports master_link_status:up on a replica.
	LinkUp bool
	// LinkDownSince is master_link_down_since_seconds on a replica whose
	// link is down: -1 when it has never been up (and on a primary).
	LinkDownSince int64
	// SyncInProgress reports master_sync_in_progress:1.
	SyncInProgress bool
}

// Parse reads the fields of an INFO replication reply (lines "field:value",
// CRLF or LF, "#" comments). It returns an error matching ErrMalformed when
// role is missing or unknown, or a field it reads is not a number, or an
// offset the role needs is missing or negative.
func Parse(text string) (Replication, error) {
	r := Replication{SlaveReplOffset: -1, LinkDownSince: -1, MasterReplOffset: -1}
	var err error
	num := func(field, v string) int64 {
		n, perr := strconv.ParseInt(v, 10, 64)
		if perr != nil && err == nil {
			err = fmt.Errorf("%w: %s %q is not a number", ErrMalformed, field, v)
		}
		return n
	}
	for line := range strings.Lines(text) {
		line = strings.TrimRight(line, "\r\n")
		field, v, ok := strings.Cut(line, ":")
		if !ok || strings.HasPrefix(line, "#") {
			continue
		}
		switch field {
		case "role":
			r.Role = v
		case "master_replid":
			r.MasterReplID = v
		case "master_repl_offset":
			r.MasterReplOffset = num(field, v)
		case "slave_repl_offset":
			r.SlaveReplOffset = num(field, v)
		case "master_link_status":
			r.LinkUp = v == "up"
		case "master_link_down_since_seconds":
			r.LinkDownSince = num(field, v)
		case "master_sync_in_progress":
			r.SyncInProgress = v == "1"
		}
	}
	if err != nil {
		return Replication{}, err
	}
	switch r.Role {
	case "master":
		if r.MasterReplOffset < 0 {
			return Replication{}, fmt.Errorf("%w: master_repl_offset missing or negative (%d)", ErrMalformed, r.MasterReplOffset)
		}
		r.LinkDownSince = -1
	case "slave":
		if r.SlaveReplOffset < 0 && !r.SyncInProgress {
			return Replication{}, fmt.Errorf("%w: slave_repl_offset missing or negative (%d)", ErrMalformed, r.SlaveReplOffset)
		}
	case "":
		return Replication{}, fmt.Errorf("%w: no role field", ErrMalformed)
	default:
		return Replication{}, fmt.Errorf("%w: role %q", ErrMalformed, r.Role)
	}
	return r, nil
}
