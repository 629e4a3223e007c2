//go:build chaos

package chaos

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// instance is one `scheduler start` process (restartable under the same
// node id; each start gets a fresh HTTP port and appends to the same log).
type instance struct {
	name    string // node id
	binary  string
	dir     string   // SCRIPT_ROOT, working directory
	env     []string // environment without HTTP_ADDR
	logPath string

	cmd    *exec.Cmd
	addr   string
	exited chan error // receives the exit status once
	logf   *os.File
}

// freeAddr returns a loopback address with a port nobody listens on now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// start starts the process; it does not wait for readiness.
func (in *instance) start(t *testing.T) {
	t.Helper()
	if in.cmd != nil {
		t.Fatalf("%s: already running", in.name)
	}
	in.addr = freeAddr(t)
	f, err := os.OpenFile(in.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, "=== chaos: start %s at %s on %s\n", in.name, time.Now().UTC().Format(time.RFC3339Nano), in.addr)
	cmd := exec.Command(in.binary, "start")
	cmd.Dir = in.dir
	cmd.Env = append(append([]string(nil), in.env...), "HTTP_ADDR="+in.addr)
	cmd.Stdout, cmd.Stderr = f, f
	// The instance dies with the test process, whatever ends it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		t.Fatalf("start %s: %v", in.name, err)
	}
	in.cmd, in.logf = cmd, f
	in.exited = make(chan error, 1)
	go func(c *exec.Cmd, ch chan error) { ch <- c.Wait() }(cmd, in.exited)
}

// alive reports whether the process was started and has not exited.
func (in *instance) alive() bool {
	if in.cmd == nil {
		return false
	}
	select {
	case err := <-in.exited:
		in.exited <- err // keep it for wait
		return false
	default:
		return true
	}
}

// signal sends sig to the process.
func (in *instance) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if in.cmd == nil {
		t.Fatalf("%s: not running", in.name)
	}
	if err := in.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal %v to %s: %v", sig, in.name, err)
	}
}

// wait waits up to d for the process to exit and returns its exit error.
func (in *instance) wait(t *testing.T, d time.Duration) error {
	t.Helper()
	select {
	case err := <-in.exited:
		in.cmd = nil
		in.logf.Close()
		return err
	case <-time.After(d):
		t.Fatalf("%s did not exit within %s; log: %s", in.name, d, in.logPath)
		return nil
	}
}

// readyStatus returns the HTTP status of GET /readyz (0 when unreachable).
func (in *instance) readyStatus() int {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get("http://" + in.addr + "/readyz")
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// waitReady polls /readyz until it answers 200 and returns when that was;
// it fails the test after d.
func (in *instance) waitReady(t *testing.T, d time.Duration) time.Time {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		if in.readyStatus() == http.StatusOK {
			return time.Now()
		}
		if !in.alive() {
			t.Fatalf("%s exited before it was ready; log: %s", in.name, in.logPath)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready within %s; log: %s", in.name, d, in.logPath)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// kill SIGKILLs the process if it runs (cleanup).
func (in *instance) kill() {
	if in.cmd != nil && in.alive() {
		_ = in.cmd.Process.Kill()
		<-in.exited
	}
	if in.logf != nil {
		in.logf.Close()
	}
	in.cmd = nil
}

// busyCPU starts n busy-loop processes and returns a function that stops
// them (also registered as cleanup).
func busyCPU(t *testing.T, n int) (stop func()) {
	t.Helper()
	var cmds []*exec.Cmd
	for i := 0; i < n; i++ {
		c := exec.Command("sh", "-c", "while :; do :; done")
		c.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := c.Start(); err != nil {
			t.Fatalf("busy loop: %v", err)
		}
		cmds = append(cmds, c)
	}
	done := false
	stop = func() {
		if done {
			return
		}
		done = true
		for _, c := range cmds {
			_ = c.Process.Kill()
			_ = c.Wait()
		}
	}
	t.Cleanup(stop)
	return stop
}

// postgres controls the local PostgreSQL cluster behind TEST_DATABASE_URL.
type postgres struct {
	url     string // TEST_DATABASE_URL
	version string // the cluster's version (directory of /etc/postgresql)
	// why is set when the cluster cannot be stopped from here.
	why string
}

// localPostgres finds the cluster pg_ctlcluster can stop and start: only
// when pg_ctlcluster exists, we are root, exactly one version is installed
// and TEST_DATABASE_URL names this machine.
func localPostgres(base string) *postgres {
	p := &postgres{url: base}
	if _, err := exec.LookPath("pg_ctlcluster"); err != nil {
		p.why = "pg_ctlcluster not found"
		return p
	}
	if os.Geteuid() != 0 {
		p.why = "not running as root"
		return p
	}
	vs, err := os.ReadDir("/etc/postgresql")
	if err != nil || len(vs) != 1 {
		p.why = fmt.Sprintf("not exactly one cluster version in /etc/postgresql (%d, %v)", len(vs), err)
		return p
	}
	p.version = vs[0].Name()
	if _, err := os.Stat(filepath.Join("/etc/postgresql", p.version, "main")); err != nil {
		p.why = "no cluster named main"
		return p
	}
	u, err := url.Parse(base)
	if err != nil {
		p.why = "TEST_DATABASE_URL: " + err.Error()
		return p
	}
	switch u.Hostname() {
	case "127.0.0.1", "localhost", "::1", "":
	default:
		p.why = "TEST_DATABASE_URL is not on this machine: " + u.Hostname()
	}
	return p
}

// accepting reports whether a new connection to the database succeeds.
func (p *postgres) accepting() bool {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, p.url)
	if err != nil {
		return false
	}
	defer c.Close(context.Background())
	return c.Ping(ctx) == nil
}

// ctl runs pg_ctlcluster with action (start, stop).
func (p *postgres) ctl(action string) error {
	out, err := exec.Command("pg_ctlcluster", "--skip-systemctl-redirect", p.version, "main", action).CombinedOutput()
	if err != nil {
		return fmt.Errorf("pg_ctlcluster %s main %s: %v: %s", p.version, action, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// outage stops the cluster for d and starts it again. The stop, the pause
// and the start run in a shell of their own session, so PostgreSQL comes
// back even if this test process dies meanwhile (a -timeout panic runs no
// cleanup). It returns when the stop command has returned (stopped) and a
// channel that receives the shell's outcome once it has started the
// cluster again.
func (p *postgres) outage(t *testing.T, d time.Duration) (stopped time.Time, done <-chan error, err error) {
	t.Helper()
	marker := filepath.Join(t.TempDir(), "stopped")
	script := fmt.Sprintf(`pg_ctlcluster --skip-systemctl-redirect %[1]s main stop -m fast; rc=$?; touch %[2]q; sleep %[3]d; `+
		`pg_ctlcluster --skip-systemctl-redirect %[1]s main start; exit $rc`, p.version, marker, int(d.Seconds()))
	c := exec.Command("sh", "-c", script)
	c.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	out := &strings.Builder{}
	c.Stdout, c.Stderr = out, out
	if err := c.Start(); err != nil {
		return time.Time{}, nil, err
	}
	ch := make(chan error, 1)
	go func() {
		if err := c.Wait(); err != nil {
			ch <- fmt.Errorf("outage script: %v: %s", err, out.String())
			return
		}
		ch <- nil
	}()
	for {
		if _, err := os.Stat(marker); err == nil {
			return time.Now(), ch, nil
		}
		select {
		case err := <-ch:
			return time.Time{}, nil, fmt.Errorf("outage script ended before the stop: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// ensureUp starts the cluster if it does not accept connections (cleanup)
// and waits up to a minute for it.
func (p *postgres) ensureUp(t *testing.T) {
	if p.why != "" || p.accepting() {
		return
	}
	t.Logf("cleanup: PostgreSQL is down; starting it")
	if err := p.ctl("start"); err != nil {
		t.Errorf("cleanup: %v", err)
	}
	deadline := time.Now().Add(time.Minute)
	for !p.accepting() {
		if time.Now().After(deadline) {
			t.Errorf("cleanup: PostgreSQL still not accepting connections")
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}
