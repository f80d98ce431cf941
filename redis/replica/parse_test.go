package replica_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/bulwark-go/bulwark/balance"
	"github.com/bulwark-go/bulwark/redis/replica"
)

const (
	masterInfo = "# Replication\r\nrole:master\r\nconnected_slaves:1\r\n" +
		"slave0:ip=127.0.0.1,port=26392,state=online,offset=4242,lag=0\r\n" +
		"master_replid:44c3f52c9105d453c7b21447eca83a2a295cf474\r\n" +
		"master_replid2:0000000000000000000000000000000000000000\r\n" +
		"master_repl_offset:4251\r\nsecond_repl_offset:-1\r\n"
	replicaInfo = "# Replication\r\nrole:slave\r\nmaster_host:127.0.0.1\r\nmaster_port:26391\r\n" +
		"master_link_status:up\r\nmaster_last_io_seconds_ago:1\r\nmaster_sync_in_progress:0\r\n" +
		"slave_read_repl_offset:4251\r\nslave_repl_offset:4242\r\nslave_priority:100\r\n" +
		"master_replid:44c3f52c9105d453c7b21447eca83a2a295cf474\r\nmaster_repl_offset:4242\r\n"
	// A replica that has never synchronised (from a real server, seconds
	// after start with its primary unreachable): its offset is 1 while it
	// holds nothing of the primary's.
	unsyncedInfo = "# Replication\r\nrole:slave\r\nmaster_link_status:down\r\nmaster_last_io_seconds_ago:-1\r\n" +
		"master_sync_in_progress:0\r\nslave_read_repl_offset:1\r\nslave_repl_offset:1\r\n" +
		"master_link_down_since_seconds:-1\r\nmaster_repl_offset:0\r\n"
	// A replica whose link went down after it synchronised.
	downInfo = "role:slave\nmaster_link_status:down\nmaster_sync_in_progress:0\n" +
		"slave_repl_offset:900\nmaster_link_down_since_seconds:12\n"
	syncingInfo = "role:slave\nmaster_link_status:down\nmaster_sync_in_progress:1\nmaster_link_down_since_seconds:3\n"
)

func TestParse(t *testing.T) {
	cases := []struct {
		name string
		text string
		want replica.Replication
		err  string
	}{
		{"primary", masterInfo, replica.Replication{Role: "master", MasterReplID: "44c3f52c9105d453c7b21447eca83a2a295cf474",
			MasterReplOffset: 4251, SlaveReplOffset: -1, LinkDownSince: -1}, ""},
		{"replica", replicaInfo, replica.Replication{Role: "slave", MasterReplID: "44c3f52c9105d453c7b21447eca83a2a295cf474",
			MasterReplOffset: 4242, SlaveReplOffset: 4242, LinkUp: true, LinkDownSince: -1}, ""},
		{"replica link down", downInfo, replica.Replication{Role: "slave", MasterReplOffset: -1, SlaveReplOffset: 900, LinkDownSince: 12}, ""},
		{"full sync", syncingInfo, replica.Replication{Role: "slave", MasterReplOffset: -1, SlaveReplOffset: -1, LinkDownSince: 3, SyncInProgress: true}, ""},
		{"empty", "", replica.Replication{}, "no role field"},
		{"not INFO", "-ERR unknown command", replica.Replication{}, "no role field"},
		{"unknown role", "role:sentinel\n", replica.Replication{}, `role "sentinel"`},
		{"primary without offset", "role:master\n", replica.Replication{}, "master_repl_offset missing"},
		{"replica without offset", "role:slave\nmaster_link_status:up\n", replica.Replication{}, "slave_repl_offset missing"},
		{"offset not a number", "role:master\nmaster_repl_offset:12x\n", replica.Replication{}, `master_repl_offset "12x" is not a number`},
		{"offset overflows", "role:master\nmaster_repl_offset:99999999999999999999\n", replica.Replication{}, "is not a number"},
		{"negative offset", "role:master\nmaster_repl_offset:-5\n", replica.Replication{}, "negative (-5)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := replica.Parse(tc.text)
			if tc.err != "" {
				if !errors.Is(err, replica.ErrMalformed) || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("Parse: error %v, want ErrMalformed with %q", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("Parse = %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

// staticInfo answers INFO with a fixed text.
type staticInfo struct {
	text string
	err  error
}

func (s staticInfo) Info(ctx context.Context, section string) (string, error) {
	if section != "replication" {
		return "", errors.New("unexpected section " + section)
	}
	return s.text, s.err
}

func TestProbes(t *testing.T) {
	refused := errors.New("connection refused")
	cases := []struct {
		name    string
		probe   func(replica.Infoer) func(context.Context) (balance.Position, error)
		info    staticInfo
		want    balance.Position
		wantErr error
	}{
		{"primary", replica.Primary, staticInfo{text: masterInfo}, 4251, nil},
		{"replica", replica.Replica, staticInfo{text: replicaInfo}, 4242, nil},
		{"replica link down keeps its offset", replica.Replica, staticInfo{text: downInfo}, 900, nil},
		{"primary probe of a replica", replica.Primary, staticInfo{text: replicaInfo}, 0, replica.ErrRole},
		{"replica probe of a primary", replica.Replica, staticInfo{text: masterInfo}, 0, replica.ErrRole},
		{"never synchronised", replica.Replica, staticInfo{text: unsyncedInfo}, 0, replica.ErrNotSynced},
		{"full sync running", replica.Replica, staticInfo{text: syncingInfo}, 0, replica.ErrNotSynced},
		{"malformed", replica.Primary, staticInfo{text: "role:master\nmaster_repl_offset:x\n"}, 0, replica.ErrMalformed},
		{"client error", replica.Replica, staticInfo{err: refused}, 0, refused},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.probe(tc.info)(t.Context())
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) || got != 0 {
					t.Fatalf("probe = %d, %v; want 0 and an error matching %v", got, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("probe = %d, %v; want %d", got, err, tc.want)
			}
		})
	}
}

// Parse reads untrusted replies: it never panics, and what it accepts is
// consistent.
func FuzzParse(f *testing.F) {
	for _, s := range []string{masterInfo, replicaInfo, unsyncedInfo, downInfo, syncingInfo, "", "role:", "role:master\nmaster_repl_offset:-1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		r, err := replica.Parse(text)
		if err != nil {
			if !errors.Is(err, replica.ErrMalformed) {
				t.Fatalf("error %v does not match ErrMalformed", err)
			}
			return
		}
		switch r.Role {
		case "master":
			if r.MasterReplOffset < 0 {
				t.Fatalf("accepted a primary at %d", r.MasterReplOffset)
			}
		case "slave":
			if r.SlaveReplOffset < 0 && !r.SyncInProgress {
				t.Fatalf("accepted a replica at %d", r.SlaveReplOffset)
			}
		default:
			t.Fatalf("accepted role %q", r.Role)
		}
	})
}
