package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/atf/scheduler/internal/store/storetest"
)

// The whole product through the binary: an alert schedule on CSV bars
// triggers, the notification goes through the outbox to a fake Telegram
// bot notify endpoint in the original wire format, and is marked sent.
func TestBinaryAlertNotifiesTheNotifyEndpoint(t *testing.T) {
	dir := t.TempDir()
	bars := filepath.Join(dir, "bars")
	if err := os.MkdirAll(bars, 0o755); err != nil {
		t.Fatal(err)
	}
	var csv strings.Builder
	csv.WriteString("time,open,high,low,close,volume\n")
	start := time.Now().UTC().Truncate(time.Minute).Add(-300 * time.Minute)
	for i := range 298 { // the last bar closed at least a minute ago
		c := 90 + float64(i)*0.1 // rises through 100
		fmt.Fprintf(&csv, "%s,%.2f,%.2f,%.2f,%.2f,1000\n", start.Add(time.Duration(i)*time.Minute).Format(time.RFC3339), c-0.05, c+0.1, c-0.1, c)
	}
	if err := os.WriteFile(filepath.Join(bars, "TEST_1m.csv"), []byte(csv.String()), 0o644); err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	var got []map[string]any
	notifyAPI := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/notify" || r.Method != http.MethodPost {
			http.NotFound(w, r)
			return
		}
		var body map[string]any
		b, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(b, &body); err != nil || body["message"] == nil || body["telegram_chat_id"] == nil {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"success": false, "message": "message and telegram_chat_id are required"}`)
			return
		}
		mu.Lock()
		got = append(got, body)
		mu.Unlock()
		fmt.Fprint(w, `{"success": true, "message": "Notification queued"}`)
	}))
	defer notifyAPI.Close()

	env := append(testEnv(dir), "DATA_PROVIDERS=csv", "DATA_CSV_DIR="+bars,
		"NOTIFICATION_SERVICE_URL="+notifyAPI.URL, "TELEGRAM_DEFAULT_CHAT_ID=859865894", "HTTP_ADDR=off")
	alert := `{"ticker": "TEST", "timeframe": "1m",
		"rule": {"gt": {"lhs": {"field": "close"}, "rhs": {"value": 100}}},
		"rearm": {"enabled": true, "lt": {"lhs": {"field": "close"}, "rhs": {"value": 95}}},
		"notify": {"channels": ["telegram"], "priority": "high"}}`
	add := exec.Command(binary, "schedules", "add", "--user", "1", "--name", "test-above-100", "--type", "alert",
		"--cron", "* * * * * *", "--params", alert)
	add.Dir, add.Env = dir, env
	if out, err := add.CombinedOutput(); err != nil {
		t.Fatalf("add alert: %v\n%s", err, out)
	}

	cmd := exec.Command(binary, "start")
	cmd.Dir, cmd.Env = dir, env
	logs := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	db := storetest.Open(t, "sqlite", filepath.Join(dir, "s.db"))
	deadline := time.Now().Add(30 * time.Second)
	for {
		var sent, alertRuns int
		_ = db.SQL().QueryRow(`SELECT COUNT(*) FROM notifications WHERE status = 'sent'`).Scan(&sent)
		_ = db.SQL().QueryRow(`SELECT COUNT(*) FROM job_schedule_runs WHERE status = 'completed'`).Scan(&alertRuns)
		if sent >= 1 && alertRuns >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no sent notification after 30 s (sent=%d, completed runs=%d); logs:\n%s", sent, alertRuns, logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	_ = cmd.Wait()

	mu.Lock()
	defer mu.Unlock()
	// The rule stays true, but the alert is TRIGGERED until it re-arms: one
	// message, however many runs.
	if len(got) != 1 {
		t.Fatalf("notify endpoint got %d messages, want exactly 1: %v", len(got), got)
	}
	m := got[0]
	if m["notification_type"] != "ALERT" || m["telegram_chat_id"] != float64(859865894) || m["priority"] != "HIGH" {
		t.Fatalf("message fields = %v", m)
	}
	if !strings.Contains(fmt.Sprint(m["message"], m["title"]), "TEST") {
		t.Fatalf("message does not name the ticker: %v", m)
	}
	var status string
	if err := db.SQL().QueryRow(`SELECT state_json FROM job_schedules WHERE name = 'test-above-100'`).Scan(&status); err != nil || !strings.Contains(status, "TRIGGERED") {
		t.Fatalf("alert state = %s, %v; want TRIGGERED", status, err)
	}
}
