package notify_test

import (
	"strings"
	"testing"
	"time"

	"github.com/atf/scheduler/internal/notify"
)

func TestParseTemplate(t *testing.T) {
	ok := []string{
		"{{.Ticker}} {{.Close}}",
		"{{.Name}}: {{.Status}} at {{time .Time \"15:04\"}} {{upper .Timeframe}}",
		"{{range $k, $v := .Values}}{{$k}}={{num $v}} {{end}}",
		"{{.Data.anything}} {{.Values.missing}}",
	}
	for _, s := range ok {
		if err := notify.ParseTemplate(s); err != nil {
			t.Errorf("ParseTemplate(%q): %v", s, err)
		}
	}
	bad := map[string]string{
		"{{.Tickr}}":              "Tickr",
		"{{.Close":                "notify.template",
		"{{nosuchfunc .Close}}":   "nosuchfunc",
		strings.Repeat("x", 5000): "at most 4096",
		"{{range .Close}}{{end}}": "range",
	}
	for s, want := range bad {
		if err := notify.ParseTemplate(s); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseTemplate(%.30q) = %v, want an error containing %q", s, err, want)
		}
	}
}

func TestRenderTemplateLimitsOutput(t *testing.T) {
	_, err := notify.RenderTemplate(`{{range $i, $v := .Data.list}}{{printf "%2000s" "x"}}{{end}}`,
		notify.TemplateData{Data: map[string]any{"list": make([]int, 100)}})
	if err == nil || !strings.Contains(err.Error(), "16 KiB") {
		t.Errorf("err = %v, want the output limit", err)
	}
	out, err := notify.RenderTemplate("{{num .Price}}", notify.TemplateData{Close: 42.5})
	if err != nil || out != "42.5" {
		t.Errorf("Price defaults to Close: %q %v", out, err)
	}
}

func TestFormatNumber(t *testing.T) {
	for v, want := range map[float64]string{
		65000: "65000", 0.1 + 0.2: "0.3", 28.7: "28.7", 0.00012345: "0.00012345",
		123456789012: "123456789012", 1234567890123: "1234567890120", 1e20: "1e+20", -3.25: "-3.25", 0: "0",
	} {
		if got := notify.FormatNumber(v); got != want {
			t.Errorf("FormatNumber(%v) = %q, want %q", v, got, want)
		}
	}
}

func TestJobMessage(t *testing.T) {
	title, body := notify.JobMessage(notify.JobOutcome{
		Name: "vix-check", Status: "completed", Duration: 12340 * time.Millisecond,
		Result: map[string]any{"vix_current": 21.5, "regime": "high", "levels": []any{1.0, 2.0}},
	})
	if title != "✅ vix-check completed" {
		t.Errorf("title %q", title)
	}
	if want := "Duration: 12.3s\nlevels: [1,2]\nregime: high\nvix_current: 21.5"; body != want {
		t.Errorf("body %q, want %q", body, want)
	}
	stderr := strings.Repeat("noise line\n", 100) + "Traceback (most recent call last):\nValueError: bad data"
	title, body = notify.JobMessage(notify.JobOutcome{Name: "etl", Status: "failed", Duration: 3 * time.Minute, Error: stderr})
	if title != "❌ etl failed" || !strings.HasSuffix(body, "ValueError: bad data") || !strings.Contains(body, "\nError:\n…") {
		t.Errorf("failed job: %q / %q", title, body)
	}
	if len([]rune(body)) > 600 {
		t.Errorf("body is %d characters; the error tail should be capped at 500", len([]rune(body)))
	}
	many := map[string]any{}
	for i := range 30 {
		many[string(rune('a'+i%26))+strings.Repeat("x", i/26)] = i
	}
	_, body = notify.JobMessage(notify.JobOutcome{Name: "x", Status: "cancelled", Result: many})
	if !strings.HasSuffix(body, "… and 10 more fields") {
		t.Errorf("many fields: %q", body)
	}
}

func TestErrorTail(t *testing.T) {
	if got := notify.ErrorTail("short", 10); got != "short" {
		t.Errorf("short: %q", got)
	}
	if got := notify.ErrorTail("aaaa\nbbbbbbbbbbbb", 14); got != "…bbbbbbbbbbbb" {
		t.Errorf("line boundary: %q", got)
	}
}
