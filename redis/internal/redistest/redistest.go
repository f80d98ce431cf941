// Package redistest gives the fleet packages' tests their Redis servers:
// the shared ones ./test.sh starts (found through its environment
// variables) and dedicated ones a fault test starts, pauses and stops by
// itself, so that pausing a server never disturbs another package's tests
// running in parallel.
package redistest

import (
	"context"
	"fmt"
	"math/rand/v2"
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

// Env returns the variable ./test.sh exports for a server, skipping the
// test when it is unset — unless CI=true, where a missing server is a
// failure, so that a green run never hides one.
func Env(t testing.TB, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s unset under CI=true: run the tests through ./test.sh, which starts Redis", name)
		}
		t.Skipf("%s unset: ./test.sh starts the Redis servers these tests need", name)
	}
	return v
}

// Addr is the address of a standalone server of the test binary's own,
// started on first use (when ./test.sh's servers are configured, which says
// redis-server is installed) and stopped by StopAll. The shared primary is
// not used: another package's fault test may pause it at any moment, and
// go test runs packages in parallel.
func Addr(t testing.TB) string {
	t.Helper()
	Env(t, "BULWARK_REDIS_ADDR")
	own.once.Do(func() { own.srv, own.err = start() })
	if own.err != nil {
		t.Fatalf("starting a redis-server: %v", own.err)
	}
	return own.srv.Addr
}

var own struct {
	once sync.Once
	srv  *Server
	err  error
}

// StopAll stops the server Addr started; TestMain calls it after the
// tests.
func StopAll() {
	if own.srv != nil {
		own.srv.Stop()
	}
}

// ClusterAddrs are the shared cluster's node addresses.
func ClusterAddrs(t testing.TB) []string {
	return strings.Split(Env(t, "BULWARK_REDIS_CLUSTER_ADDRS"), ",")
}

// Client returns a rueidis client of addrs, closed by the test's cleanup.
func Client(t testing.TB, addrs ...string) rueidis.Client {
	t.Helper()
	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: addrs, DisableCache: true})
	if err != nil {
		t.Fatalf("rueidis.NewClient(%v): %v", addrs, err)
	}
	t.Cleanup(c.Close)
	return c
}

// Prefix is a key prefix unique to the test and the run, so that runs with
// -count=3 never share keys.
func Prefix(t testing.TB) string {
	name := strings.NewReplacer("/", ".", "{", "(", "}", ")").Replace(t.Name())
	return fmt.Sprintf("bulwarktest:%s:%x:", name, rand.Uint64())
}

// Time is the server's clock (TIME).
func Time(t testing.TB, c rueidis.Client) time.Time {
	t.Helper()
	r, err := c.Do(context.Background(), c.B().Time().Build()).AsStrSlice()
	if err != nil || len(r) != 2 {
		t.Fatalf("TIME: %v %v", r, err)
	}
	s, err1 := strconv.ParseInt(r[0], 10, 64)
	us, err2 := strconv.ParseInt(r[1], 10, 64)
	if err1 != nil || err2 != nil {
		t.Fatalf("TIME: %v", r)
	}
	return time.Unix(s, us*1000)
}

// Server is a redis-server of the test's own.
type Server struct {
	Addr string
	cmd  *exec.Cmd
	t    testing.TB
	mu   sync.Mutex
	stop bool
}

// Start starts a redis-server on a free loopback port, without
// persistence, and stops it (by its pid) in the test's cleanup. It is
// skipped like Env when no shared server is configured (the machine then
// likely has no redis-server either).
func Start(t testing.TB) *Server {
	t.Helper()
	Env(t, "BULWARK_REDIS_ADDR")
	s, err := start()
	if err != nil {
		t.Fatalf("starting a redis-server: %v", err)
	}
	s.t = t
	t.Cleanup(s.Stop)
	return s
}

func start() (*Server, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, err
	}
	for try := 0; try < 10; try++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		// No persistence: --dir is never written.
		cmd := exec.Command(bin, "--bind", "127.0.0.1", "--port", strconv.Itoa(port),
			"--save", "", "--appendonly", "no", "--dir", os.TempDir())
		if err := cmd.Start(); err != nil {
			return nil, err
		}
		s := &Server{Addr: "127.0.0.1:" + strconv.Itoa(port), cmd: cmd}
		if s.ready() {
			return s, nil
		}
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}
	return nil, fmt.Errorf("no redis-server started after 10 tries")
}

// ready waits up to 5 s for the server to accept connections.
func (s *Server) ready() bool {
	for i := 0; i < 100; i++ {
		c, err := net.DialTimeout("tcp", s.Addr, 100*time.Millisecond)
		if err == nil {
			_, werr := c.Write([]byte("PING\r\n"))
			buf := make([]byte, 7)
			_ = c.SetReadDeadline(time.Now().Add(time.Second))
			n, rerr := c.Read(buf)
			c.Close()
			if werr == nil && rerr == nil && string(buf[:n]) == "+PONG\r\n" {
				return true
			}
		}
		if s.cmd.ProcessState != nil {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}

// Pause stops the server with SIGSTOP; Resume or Stop continues it.
func (s *Server) Pause() {
	s.t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		s.t.Fatalf("kill -STOP %d: %v", s.cmd.Process.Pid, err)
	}
}

// Resume continues a paused server with SIGCONT.
func (s *Server) Resume() {
	s.t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		s.t.Errorf("kill -CONT %d: %v", s.cmd.Process.Pid, err)
	}
}

// Stop ends the server and waits for it.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stop {
		return
	}
	s.stop = true
	_ = s.cmd.Process.Signal(syscall.SIGCONT)
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
}
