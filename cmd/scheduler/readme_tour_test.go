package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/atf/scheduler/internal/api"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// tourStep is one command of the README's tour.
type tourStep struct {
	line       int // README line of the command's first line
	args       []string
	background bool // ends in &
}

// readTour returns the commands of the README's "A short tour" shell block,
// continuation lines joined, comments removed.
func readTour(t *testing.T) []tourStep {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(raw), "\n")
	i := 0
	for i < len(lines) && lines[i] != "## A short tour" {
		i++
	}
	for i < len(lines) && lines[i] != "```sh" {
		i++
	}
	if i == len(lines) {
		t.Fatal("README.md has no \"## A short tour\" section with a ```sh block")
	}
	var steps []tourStep
	var cur strings.Builder
	start := 0
	for i++; i < len(lines) && lines[i] != "```"; i++ {
		l := lines[i]
		if cur.Len() == 0 {
			start = i + 1
		}
		if strings.HasSuffix(l, "\\") {
			cur.WriteString(strings.TrimSuffix(l, "\\"))
			continue
		}
		cur.WriteString(l)
		text := cur.String()
		cur.Reset()
		args, err := shellWords(text)
		if err != nil {
			t.Fatalf("README.md:%d: %v", start, err)
		}
		if len(args) == 0 {
			continue
		}
		st := tourStep{line: start, args: args}
		if args[len(args)-1] == "&" {
			st.background, st.args = true, args[:len(args)-1]
		}
		steps = append(steps, st)
	}
	return steps
}

// shellWords splits a command line as sh would for the tour's simple
// commands: single and double quotes, # comments, a trailing &.
func shellWords(s string) ([]string, error) {
	var out []string
	var w strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\'' || c == '"':
			j := strings.IndexByte(s[i+1:], c)
			if j < 0 {
				return nil, fmt.Errorf("unterminated %c quote in %q", c, s)
			}
			w.WriteString(s[i+1 : i+1+j])
			i += j + 1
			inWord = true
		case c == ' ' || c == '\t':
			if inWord {
				out = append(out, w.String())
				w.Reset()
				inWord = false
			}
		case c == '#' && !inWord:
			i = len(s)
		default:
			w.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		out = append(out, w.String())
	}
	return out, nil
}

// tourExpect is what one tour command must print (stdout and stderr),
// keyed by the command's words after the program name.
var tourExpect = []struct {
	prefix string
	want   []string // regular expressions
}{
	{"version", []string{`^scheduler \S+ \(.*go1\.`}},
	{"init tour", []string{`created tour`, `BTCUSDT_1h\.csv \(485 hourly bars up to `}},
	{"schedules add --user 1 --name hello", []string{`^created schedule 1 \(hello\)`}},
	{"schedules add --user 1 --name btc-rsi", []string{`^created schedule 2 \(btc-rsi\)`}},
	{"alert test", []string{`(?m)^\S+\s+trigger\s+ARMED -> TRIGGERED`, `, [1-9]\d* triggers`}},
	{"validate", []string{`configuration and schedules are valid`}},
	{"schedules run hello", []string{`"id": 1,`, `"status": "completed"`, `"greeting": "hello"`}},
	{"runs list --schedule hello", []string{`(?m)^1\s+1\s+script\s+manual\s+completed\s+1/`}},
	{"runs show 1", []string{`^run 1: completed \(manual\)`, `(?m)^started: .*\(lag `, `"greeting": "hello"`}},
	{"start", nil},
	{"status", []string{`^service: running \(version `, `engine loop running`, `(?m)^database: sqlite \S+/tour/data/scheduler\.db$`,
		`(?m)^schedules: 2 total, 2 enabled, 0 invalid$`, `(?m)^  #1\s+hello\s+0 \*/4 \* \* \*`}},
}

// TestREADMETour runs the README's tour, line by line, in a temporary
// folder with the built binary and checks each command's exit status and
// key output. A command the test does not know fails it: the README and
// this test change together.
func TestREADMETour(t *testing.T) {
	steps := readTour(t)
	if len(steps) < 10 {
		t.Fatalf("README tour has %d commands; the section moved or the parser broke", len(steps))
	}
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	httpAddr := ln.Addr().String()
	ln.Close()
	env := []string{"HTTP_ADDR=" + httpAddr, "DATA_PROVIDERS=csv", "DATA_CSV_DIR=."}
	for _, kv := range os.Environ() {
		if !hasServicePrefix(kv) {
			env = append(env, kv)
		}
	}
	cwd := dir
	var bg *exec.Cmd
	bgOut := &syncBuffer{}
	bgDone := make(chan error, 1)
	t.Cleanup(func() {
		if bg != nil && bg.ProcessState == nil {
			_ = bg.Process.Kill()
		}
	})
	for _, st := range steps {
		name := fmt.Sprintf("README.md:%d %s", st.line, strings.Join(st.args, " "))
		switch {
		case st.args[0] == "go" && st.args[1] == "build":
			continue // the test built the binary (TestMain)
		case st.args[0] == "cd":
			cwd = filepath.Join(cwd, st.args[1])
			continue
		case st.args[0] == "kill" && len(st.args) == 2 && st.args[1] == "%1":
			if bg == nil {
				t.Fatalf("%s: no background command to stop", name)
			}
			checkLiveStatus(t, httpAddr)
			_ = bg.Process.Signal(syscall.SIGTERM)
			select {
			case err := <-bgDone:
				if err != nil {
					t.Fatalf("%s: the service exited with %v:\n%s", name, err, bgOut.String())
				}
			case <-time.After(30 * time.Second):
				t.Fatalf("%s: the service did not stop within 30 s:\n%s", name, bgOut.String())
			}
			continue
		case filepath.Base(st.args[0]) != "scheduler":
			t.Fatalf("%s: the test does not know how to run %q", name, st.args[0])
		}
		want, ok := expectFor(st.args[1:])
		if !ok {
			t.Fatalf("%s: no expectation in tourExpect for this command; add one", name)
		}
		cmd := exec.Command(binary, st.args[1:]...)
		cmd.Dir, cmd.Env = cwd, env
		if st.background {
			if bg != nil {
				t.Fatalf("%s: a second background command", name)
			}
			bg = cmd
			cmd.Stdout, cmd.Stderr = bgOut, bgOut
			if err := cmd.Start(); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			go func() { bgDone <- cmd.Wait() }()
			waitReady(t, name, httpAddr, bgDone, bgOut)
			continue
		}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", name, err, out)
		}
		for _, re := range want {
			if !regexp.MustCompile(re).Match(out) {
				t.Errorf("%s: output does not match %s:\n%s", name, re, out)
			}
		}
	}
	if bg == nil || bg.ProcessState == nil {
		t.Fatal("the tour should start the service in the background and stop it")
	}
}

// expectFor finds the tourExpect entry of a command (longest prefix).
func expectFor(args []string) ([]string, bool) {
	line := strings.Join(args, " ")
	best := -1
	for i, e := range tourExpect {
		if (line == e.prefix || strings.HasPrefix(line, e.prefix+" ")) && (best < 0 || len(e.prefix) > len(tourExpect[best].prefix)) {
			best = i
		}
	}
	if best < 0 {
		return nil, false
	}
	return tourExpect[best].want, true
}

// hasServicePrefix reports whether an environment entry configures the
// service (those the demo also clears), so the developer's own settings
// cannot change the tour.
func hasServicePrefix(kv string) bool {
	for _, p := range demoEnvPrefixes {
		if strings.HasPrefix(kv, p) {
			return true
		}
	}
	return false
}

// waitReady polls /readyz of the background service until 200, its exit,
// or a deadline.
func waitReady(t *testing.T, name, addr string, done <-chan error, out *syncBuffer) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case err := <-done:
			t.Fatalf("%s: exited early (%v):\n%s", name, err, out.String())
		default:
		}
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not ready within 30 s:\n%s", name, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// checkLiveStatus checks the running service's /status against the
// OpenAPI document, with the sections `scheduler start` adds.
func checkLiveStatus(t *testing.T, addr string) {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/status")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /status: %d %v\n%s", resp.StatusCode, err, body)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(api.OpenAPI()))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("openapi.json", doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("openapi.json#/components/schemas/StatusOK")
	if err != nil {
		t.Fatal(err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if err := sch.Validate(inst); err != nil {
		t.Fatalf("/status of the running service does not match openapi.json: %v\n%s", err, body)
	}
	var st map[string]any
	if err := json.Unmarshal(body, &st); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"database", "notification_delivery", "data_providers", "data_provider_config", "health", "dispatcher"} {
		if _, ok := st[k]; !ok {
			t.Errorf("/status of the running service lacks %q:\n%s", k, body)
		}
	}
}
