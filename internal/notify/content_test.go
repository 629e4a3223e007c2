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

func TestScriptMessageKeepsTheOldLayout(t *testing.T) {
	at := time.Date(2024, 3, 4, 13, 2, 0, 0, time.UTC)
	title, body := notify.ScriptMessage(notify.JobOutcome{Name: "vix-check", JobType: "data_processing", Status: "completed",
		Time: at, Duration: 12340 * time.Millisecond,
		Result: map[string]any{"vix_current": 21.5, "regime": "high", "raw": "x", "parse_error": "y"}})
	if title != "[Scheduler] vix-check" {
		t.Errorf("title %q", title)
	}
	want := "**Scheduled Job:** vix-check\n**Job Type:** data_processing\n**Status:** SUCCESS\n" +
		"**Execution Time:** 2024-03-04 13:02:00 UTC\n**Duration:** 12.3s\n\n**Results:**\n  • regime: high\n  • vix_current: 21.5"
	if body != want {
		t.Errorf("body\n%s\nwant\n%s", body, want)
	}
	_, body = notify.ScriptMessage(notify.JobOutcome{Name: "etl", JobType: "script", Status: "timeout", Time: at,
		Error: "timed out after 600 s"})
	if !strings.Contains(body, "**Status:** FAILED (timeout)\n") || !strings.HasSuffix(body, "\n\n**Error:**\ntimed out after 600 s") {
		t.Errorf("failed body:\n%s", body)
	}
}

func TestAlertMessageKeepsTheOldLayout(t *testing.T) {
	bar := time.Date(2024, 3, 4, 12, 0, 0, 0, time.UTC)
	title, body := notify.AlertMessage(notify.AlertFacts{Name: "btc-rsi", Ticker: "BTCUSDT", Timeframe: "1h", Price: 65100.5,
		Time: bar.Add(time.Hour), BarTime: bar, Open: 65000, High: 65200, Low: 64800, Volume: 1234567.4,
		Values: map[string]float64{"rsi_14": 28.7, "value": 30}, Rule: "rsi(14) crosses below 30",
		Description: "RSI(14) crossed below 30: 31.2 → 28.7", Status: "TRIGGERED", Rearm: "rsi(14) > 35",
		Priority: "HIGH", Provider: "binance", Generated: bar.Add(time.Hour + 5*time.Second)})
	if title != "🚨 btc-rsi: BTCUSDT (1h)" {
		t.Errorf("title %q", title)
	}
	want := `**Alert Triggered: btc-rsi**
📈 Symbol: BTCUSDT
⏱️ Timeframe: 1h
💰 Current Price: 65100.5
🕐 Triggered At: 2024-03-04 13:00:00 UTC
🕯️ Bar: 2024-03-04 12:00 UTC
📡 Data: binance

**📊 Market Context:**
  • Open: 65000
  • High: 65200
  • Low: 64800
  • Change: 📈 +0.15%
  • Volume: 1,234,567

**📋 Alert Rule Details:**
  • Rule: rsi(14) crosses below 30
  • Event: RSI(14) crossed below 30: 31.2 → 28.7
  • Values:
    - rsi_14: 28.7
    - value: 30

**🔄 Rearm Status:**
  • Status: TRIGGERED
  • Rearm: rsi(14) > 35

**⚙️ Alert Configuration:**
  • Priority: HIGH

──────────────────────────────
🤖 Generated by Scheduler Service at 13:00:05 UTC`
	if body != want {
		t.Errorf("body\n%s\nwant\n%s", body, want)
	}
	// Other events keep the "{name}: {ticker} ({timeframe})" core; the
	// old defaults stand in for missing names.
	for ev, want := range map[string]string{"rearm": "🔄 Alert: ETHUSDT (4h)", "paused": "⏸️ Alert: ETHUSDT (4h)", "error": "⚠️ Alert: ETHUSDT (4h)"} {
		if got, _ := notify.AlertMessage(notify.AlertFacts{Event: ev, Ticker: "ETHUSDT", Timeframe: "4h"}); got != want {
			t.Errorf("%s title %q, want %q", ev, got, want)
		}
	}
}

// Markdown bold of the old layout renders as bold where the channel
// renders HTML (Telegram's HTML parse mode).
func TestTelegramRendersMarkdownBold(t *testing.T) {
	msgs := notify.TelegramMessages("[Scheduler] a<b", "**Status:** SUCCESS & done\n  • x: **unpaired")
	want := "<b>[Scheduler] a&lt;b</b>\n<b>Status:</b> SUCCESS &amp; done\n  • x: **unpaired"
	if len(msgs) != 1 || msgs[0] != want {
		t.Errorf("got %q, want %q", msgs, want)
	}
}
