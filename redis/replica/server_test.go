package replica_test

import (
	"context"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/rueidis"
)

// server is a redis-server of the test's own, on a free loopback port,
// stopped by its pid in the test's cleanup. Fault tests pause their own
// servers with SIGSTOP, so that no other package's test running in
// parallel sees the pause.
type server struct {
	addr string
	cmd  *exec.Cmd
	once sync.Once
}

// startServer starts redis-server with args. It skips the test when the
// binary is not on PATH, unless CI=true, where that is a failure.
func startServer(t *testing.T, args ...string) *server {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("redis-server not on PATH under CI=true: %v", err)
		}
		t.Skipf("redis-server not on PATH: %v", err)
	}
	for range 10 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		all := append([]string{"--bind", "127.0.0.1", "--port", strconv.Itoa(port),
			"--save", "", "--appendonly", "no", "--dir", t.TempDir()}, args...)
		cmd := exec.Command(bin, all...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		s := &server{addr: "127.0.0.1:" + strconv.Itoa(port), cmd: cmd}
		if s.ready() {
			t.Cleanup(s.stop)
			return s
		}
		s.stop()
	}
	t.Fatal("could not start redis-server")
	return nil
}

func (s *server) port() string { _, p, _ := net.SplitHostPort(s.addr); return p }

// ready waits up to 5 s for PONG.
func (s *server) ready() bool {
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", s.addr, 100*time.Millisecond); err == nil {
			_ = c.SetDeadline(time.Now().Add(time.Second))
			_, werr := c.Write([]byte("PING\r\n"))
			buf := make([]byte, 7)
			n, rerr := c.Read(buf)
			c.Close()
			if werr == nil && rerr == nil && string(buf[:n]) == "+PONG\r\n" {
				return true
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

func (s *server) pause(t *testing.T) {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatalf("kill -STOP %d: %v", s.cmd.Process.Pid, err)
	}
}

func (s *server) resume(t *testing.T) {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatalf("kill -CONT %d: %v", s.cmd.Process.Pid, err)
	}
}

func (s *server) stop() {
	s.once.Do(func() {
		_ = s.cmd.Process.Signal(syscall.SIGCONT)
		_ = s.cmd.Process.Kill()
		_ = s.cmd.Wait()
	})
}

// pair starts a primary and n replicas of it, and waits until every
// replica has synchronised.
func pair(t *testing.T, n int) (primary *server, replicas []*server) {
	t.Helper()
	// No 5 s wait for more replicas before a diskless full synchronisation.
	primary = startServer(t, "--repl-diskless-sync-delay", "0")
	for range n {
		replicas = append(replicas, startServer(t, "--replicaof", "127.0.0.1", primary.port()))
	}
	pc := client(t, primary.addr)
	for _, r := range replicas {
		rc := client(t, r.addr)
		waitFor(t, 10*time.Second, "replica "+r.addr+" synchronised", func() bool {
			info, err := rc.Do(context.Background(), rc.B().Info().Section("replication").Build()).ToString()
			return err == nil && strings.Contains(info, "master_link_status:up")
		})
	}
	// WAIT: every replica has acknowledged the primary's stream so far.
	if err := pc.Do(context.Background(), pc.B().Wait().Numreplicas(int64(n)).Timeout(5000).Build()).Error(); err != nil {
		t.Fatalf("WAIT: %v", err)
	}
	return primary, replicas
}

func client(t *testing.T, addr string) rueidis.Client {
	t.Helper()
	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{addr}, DisableCache: true,
		DisableRetry: true, ConnWriteTimeout: time.Second})
	if err != nil {
		t.Fatalf("rueidis.NewClient(%s): %v", addr, err)
	}
	t.Cleanup(c.Close)
	return c
}

// waitFor polls cond until it holds, failing the test after limit: for
// conditions that real servers reach in their own time (a synchronisation,
// a stopped replica falling behind), never to decide an outcome by sleeping.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", limit, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
