package notify

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"text/template"
	"time"
	"unicode/utf8"
)

// MaxTemplateSize bounds a user template (notify.template).
const MaxTemplateSize = 4096

// maxRendered bounds a template's output.
const maxRendered = 16 << 10

// TemplateData is what a user template (notify.template, Go text/template)
// can use. Placeholders: {{.Title}} {{.Body}} {{.Name}} {{.Ticker}}
// {{.Timeframe}} {{.Time}} {{.Open}} {{.High}} {{.Low}} {{.Close}}
// {{.Volume}} {{.Price}} {{.Status}} {{.Priority}}, {{.Values.rsi_14}} for
// indicator outputs and compared values, {{.Data.key}} for any other data.
// Functions: num (compact number), time (format a time with a Go layout),
// upper, lower, and the text/template built-ins (printf, index, if, range...).
type TemplateData struct {
	Title     string             // the generated title
	Body      string             // the generated body
	Name      string             // alert or job name
	Ticker    string             // e.g. BTCUSDT
	Timeframe string             // e.g. 1h
	Time      time.Time          // trigger bar time (alerts), finish time (jobs)
	Open      float64            // trigger bar open
	High      float64            // trigger bar high
	Low       float64            // trigger bar low
	Close     float64            // trigger bar close
	Volume    float64            // trigger bar volume
	Price     float64            // current price (the close unless set)
	Status    string             // alert status or job status
	Priority  string             // LOW, NORMAL, HIGH, CRITICAL
	Values    map[string]float64 // indicator outputs and compared values by name
	Data      map[string]any     // the notification's structured data
}

var templateFuncs = template.FuncMap{
	"num":   FormatNumber,
	"upper": strings.ToUpper,
	"lower": strings.ToLower,
	"time": func(t time.Time, layout string) string {
		return t.Format(layout)
	},
}

// sampleTemplateData is executed at save time so that unknown fields and
// wrong function arguments are found then, not at the first trigger.
func sampleTemplateData() TemplateData {
	return TemplateData{
		Title: "BTC above 65000", Body: "BTCUSDT 1h close 65100", Name: "btc-breakout",
		Ticker: "BTCUSDT", Timeframe: "1h", Time: time.Date(2024, 1, 2, 15, 0, 0, 0, time.UTC),
		Open: 64900, High: 65200, Low: 64800, Close: 65100, Volume: 1234.5, Price: 65100,
		Status: "TRIGGERED", Priority: "NORMAL",
		Values: map[string]float64{"rsi_14": 71.2}, Data: map[string]any{"ticker": "BTCUSDT"},
	}
}

// ParseTemplate validates a user template at save time: it must parse and
// run against sample data (so {{.Tickr}} is an error). Missing map keys
// (.Values.x, .Data.x) render as "<no value>" rather than fail, since which
// values exist depends on the rule.
func ParseTemplate(s string) error {
	_, err := renderTemplate(s, sampleTemplateData())
	return err
}

// RenderTemplate runs a user template on d; the output is at most 16 KiB.
func RenderTemplate(s string, d TemplateData) (string, error) {
	return renderTemplate(s, d)
}

func renderTemplate(s string, d TemplateData) (string, error) {
	if len(s) > MaxTemplateSize {
		return "", fmt.Errorf("notify.template: %d bytes, at most %d allowed", len(s), MaxTemplateSize)
	}
	t, err := template.New("notify.template").Funcs(templateFuncs).Parse(s)
	if err != nil {
		return "", fmt.Errorf("notify.template %q: %w", abbreviate(s, 80), err)
	}
	if d.Price == 0 {
		d.Price = d.Close
	}
	var b limitedBuilder
	if err := t.Execute(&b, d); err != nil {
		return "", fmt.Errorf("notify.template %q: %w", abbreviate(s, 80), err)
	}
	return b.String(), nil
}

type limitedBuilder struct{ strings.Builder }

var errTooLong = errors.New("output longer than 16 KiB")

func (b *limitedBuilder) Write(p []byte) (int, error) {
	if b.Len()+len(p) > maxRendered {
		return 0, errTooLong
	}
	return b.Builder.Write(p)
}

// FormatNumber prints a float compactly: at most 12 significant digits, no
// exponent for everyday magnitudes, no trailing zeros (65000, 0.00012345, 28.7).
func FormatNumber(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	r, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'g', 12, 64), 64)
	if a := math.Abs(r); a != 0 && (a < 1e-6 || a >= 1e15) {
		return strconv.FormatFloat(r, 'g', -1, 64)
	}
	return strconv.FormatFloat(r, 'f', -1, 64)
}

// JobOutcome describes a finished job run for JobMessage.
type JobOutcome struct {
	Name     string         // job (schedule) name
	Status   string         // completed, failed, cancelled, timeout...
	Duration time.Duration  // run time
	Result   map[string]any // the script's result fields (__SCHEDULER_RESULT__)
	Error    string         // error message or stderr; only its tail is shown
	JobType  string         // schedule job_type (ScriptMessage)
	Time     time.Time      // execution (finish) time (ScriptMessage); zero = now
}

// Limits of JobMessage.
const (
	jobMaxFields   = 20
	jobMaxValue    = 200
	jobMaxErrorLen = 500
)

// JobMessage renders a job notification compact enough for a phone:
//
//	title: "✅ vix-check completed" (❌ for failed, ⚠️ otherwise)
//	body:  "Duration: 12.3s" then "key: value" per result field (sorted,
//	       at most 20) then, when Error is set, "Error:" and its last 500
//	       characters starting at a line boundary when possible.
func JobMessage(j JobOutcome) (title, body string) {
	icon := "⚠️"
	switch strings.ToLower(j.Status) {
	case "completed", "success", "succeeded", "ok":
		icon = "✅"
	case "failed", "failure", "error", "timeout":
		icon = "❌"
	}
	name := j.Name
	if name == "" {
		name = "job"
	}
	status := j.Status
	if status == "" {
		status = "finished"
	}
	title = icon + " " + name + " " + status

	var b strings.Builder
	fmt.Fprintf(&b, "Duration: %s", formatDuration(j.Duration))
	keys := make([]string, 0, len(j.Result))
	for k := range j.Result {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for i, k := range keys {
		if i == jobMaxFields {
			fmt.Fprintf(&b, "\n… and %d more fields", len(keys)-jobMaxFields)
			break
		}
		fmt.Fprintf(&b, "\n%s: %s", k, abbreviate(formatValue(j.Result[k]), jobMaxValue))
	}
	if e := strings.TrimSpace(j.Error); e != "" {
		b.WriteString("\nError:\n")
		b.WriteString(ErrorTail(e, jobMaxErrorLen))
	}
	return title, b.String()
}

// ErrorTail returns the last n characters of s, starting after a newline
// when one falls in the first half of that window, prefixed with "…" when cut.
func ErrorTail(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	tail := string(r[len(r)-n:])
	if i := strings.IndexByte(tail, '\n'); i >= 0 && i < len(tail)/2 {
		tail = tail[i+1:]
	}
	return "…" + tail
}

func formatDuration(d time.Duration) string {
	switch {
	case d <= 0:
		return "0s"
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

func formatValue(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return x
	case float64:
		return FormatNumber(x)
	case float32:
		return FormatNumber(float64(x))
	case int, int64, int32, bool, json.Number:
		return fmt.Sprint(x)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

func abbreviate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "…"
}

// Script and alert messages keep the old service's titles and Markdown
// section layout (ORIGINAL-SYSTEM.md §6b), so that traders, the framework's
// admin UI and anything filtering on the titles see what they always saw;
// the facts the old service did not have are added as extra lines.

// ScriptMessage renders the notification of a script job (data_processing,
// script) as the old service did:
//
//	title: "[Scheduler] vix-check"
//	body:  **Scheduled Job:** vix-check
//	       **Job Type:** data_processing
//	       **Status:** SUCCESS            (FAILED; "FAILED (timeout)")
//	       **Execution Time:** 2024-01-02 15:00:00 UTC
//	       **Duration:** 12.3s            (added)
//
//	       **Results:**
//	         • key: value                 (sorted, at most 20; parse_error and raw left out as before)
//
//	       **Error:**                      (added: the last 500 characters)
//	       …
func ScriptMessage(j JobOutcome) (title, body string) {
	name := j.Name
	if name == "" {
		name = "job"
	}
	title = "[Scheduler] " + name
	status := strings.ToUpper(j.Status)
	switch strings.ToLower(j.Status) {
	case "completed", "success", "succeeded", "ok":
		status = "SUCCESS"
	case "failed", "failure", "error":
		status = "FAILED"
	case "timeout":
		status = "FAILED (timeout)"
	case "":
		status = "FINISHED"
	}
	at := j.Time
	if at.IsZero() {
		at = time.Now()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "**Scheduled Job:** %s\n", name)
	if j.JobType != "" {
		fmt.Fprintf(&b, "**Job Type:** %s\n", j.JobType)
	}
	fmt.Fprintf(&b, "**Status:** %s\n", status)
	fmt.Fprintf(&b, "**Execution Time:** %s\n", at.UTC().Format("2006-01-02 15:04:05 UTC"))
	fmt.Fprintf(&b, "**Duration:** %s\n", formatDuration(j.Duration))
	keys := make([]string, 0, len(j.Result))
	for k := range j.Result {
		if k != "parse_error" && k != "raw" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	if len(keys) > 0 {
		b.WriteString("\n**Results:**\n")
		for i, k := range keys {
			if i == jobMaxFields {
				fmt.Fprintf(&b, "  … and %d more fields\n", len(keys)-jobMaxFields)
				break
			}
			fmt.Fprintf(&b, "  • %s: %s\n", k, abbreviate(formatValue(j.Result[k]), jobMaxValue))
		}
	}
	if e := strings.TrimSpace(j.Error); e != "" {
		b.WriteString("\n**Error:**\n")
		b.WriteString(ErrorTail(e, jobMaxErrorLen))
	}
	return title, strings.TrimRight(b.String(), "\n")
}

// AlertFacts describes one alert event for AlertMessage.
type AlertFacts struct {
	Event     string // trigger, rearm, paused, inactive, error ("" = trigger)
	Name      string // alert name ("" = "Alert", as before)
	Ticker    string
	Timeframe string
	Price     float64   // current price (the bar's close)
	Time      time.Time // when the event happened
	BarTime   time.Time // open time of the event's bar; zero when not tied to a bar
	Forming   bool      // the bar had not closed
	Open      float64
	High      float64
	Low       float64
	Volume    float64
	// Values are the values the rule compared, by name.
	Values      map[string]float64
	Rule        string // the rule as text
	Description string // what happened, e.g. "RSI(14) crossed below 30: 31.2 → 28.7"
	Status      string // alert status after the event
	Rearm       string // the rearm condition, if any
	Priority    string // LOW … CRITICAL
	Count       int    // triggers collapsed into this event
	Times       []time.Time
	Provider    string
	Generated   time.Time // footer time; zero = now
}

// alertHeads are the title mark and heading of each event kind.
var alertHeads = map[string][2]string{
	"trigger":  {"🚨", "Alert Triggered"},
	"rearm":    {"🔄", "Alert Re-armed"},
	"paused":   {"⏸️", "Alert Paused (too many triggers)"},
	"inactive": {"💤", "Alert Inactive"},
	"error":    {"⚠️", "Alert Error"},
}

// AlertMessage renders an alert notification in the old service's layout:
// the title "🚨 {alert_name}: {ticker} ({timeframe})" (other events use
// their own mark: 🔄 re-armed, ⏸️ paused, 💤 inactive, ⚠️ error), then the
// Markdown sections Symbol / Timeframe / Current Price / Triggered At,
// Market Context (open, high, low, change, volume), Alert Rule Details
// (rule, event, compared values), Rearm Status, Alert Configuration and
// the "Generated by" footer. Added: the bar's open time (and whether it was
// still forming), the data provider, and how many triggers one message
// stands for. Prices are printed in full precision without a currency
// sign (the old "$%.4f" showed 0.0000 for small coins and $ for EUR pairs).
func AlertMessage(f AlertFacts) (title, body string) {
	kind := f.Event
	if kind == "" {
		kind = "trigger"
	}
	head, ok := alertHeads[kind]
	if !ok {
		head = [2]string{"🔔", "Alert " + kind}
	}
	name := f.Name
	if name == "" {
		name = "Alert"
	}
	ticker, tf := f.Ticker, f.Timeframe
	if ticker == "" {
		ticker = "Unknown"
	}
	if tf == "" {
		tf = "Unknown"
	}
	title = fmt.Sprintf("%s %s: %s (%s)", head[0], name, ticker, tf)

	var b strings.Builder
	line := func(format string, a ...any) { fmt.Fprintf(&b, format+"\n", a...) }
	line("**%s: %s**", head[1], name)
	line("📈 Symbol: %s", ticker)
	line("⏱️ Timeframe: %s", tf)
	if f.Price != 0 || !f.BarTime.IsZero() {
		line("💰 Current Price: %s", FormatNumber(f.Price))
	}
	at := f.Time
	if at.IsZero() {
		at = f.BarTime
	}
	label := "Triggered At"
	if kind != "trigger" {
		label = "At"
	}
	if !at.IsZero() {
		line("🕐 %s: %s", label, at.UTC().Format("2006-01-02 15:04:05 UTC"))
	}
	if !f.BarTime.IsZero() {
		s := f.BarTime.UTC().Format("2006-01-02 15:04 UTC")
		if f.Forming {
			s += " (forming)"
		}
		line("🕯️ Bar: %s", s)
	}
	if f.Provider != "" {
		line("📡 Data: %s", f.Provider)
	}

	if !f.BarTime.IsZero() && f.Open != 0 {
		line("\n**📊 Market Context:**")
		line("  • Open: %s", FormatNumber(f.Open))
		line("  • High: %s", FormatNumber(f.High))
		line("  • Low: %s", FormatNumber(f.Low))
		change := (f.Price - f.Open) / f.Open * 100
		mark := "📈"
		if change < 0 {
			mark = "📉"
		}
		line("  • Change: %s %+.2f%%", mark, change)
		if f.Volume > 0 {
			line("  • Volume: %s", thousands(f.Volume))
		}
	}

	if f.Rule != "" || f.Description != "" || len(f.Values) > 0 || f.Count > 1 {
		line("\n**📋 Alert Rule Details:**")
		if f.Rule != "" {
			line("  • Rule: %s", f.Rule)
		}
		if f.Description != "" {
			line("  • Event: %s", f.Description)
		}
		if f.Count > 1 && len(f.Times) > 0 {
			line("  • Fired %d times since the last check, on bars %s", f.Count, joinBarTimes(f.Times))
		}
		if len(f.Values) > 0 {
			line("  • Values:")
			keys := make([]string, 0, len(f.Values))
			for k := range f.Values {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				line("    - %s: %s", k, FormatNumber(f.Values[k]))
			}
		}
	}

	if f.Status != "" || f.Rearm != "" {
		line("\n**🔄 Rearm Status:**")
		if f.Status != "" {
			line("  • Status: %s", f.Status)
		}
		if f.Rearm != "" {
			line("  • Rearm: %s", f.Rearm)
		}
	}
	if f.Priority != "" {
		line("\n**⚙️ Alert Configuration:**")
		line("  • Priority: %s", f.Priority)
	}
	gen := f.Generated
	if gen.IsZero() {
		gen = time.Now()
	}
	line("\n%s", strings.Repeat("─", 30))
	b.WriteString("🤖 Generated by Scheduler Service at " + gen.UTC().Format("15:04:05 UTC"))
	return title, b.String()
}

// thousands prints a volume rounded to a whole number with "," separators,
// as the old service's "{:,.0f}".
func thousands(v float64) string {
	s := strconv.FormatFloat(math.Round(v), 'f', 0, 64)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func joinBarTimes(ts []time.Time) string {
	parts := make([]string, len(ts))
	for i, t := range ts {
		parts[i] = t.UTC().Format("2006-01-02 15:04")
	}
	return strings.Join(parts, ", ") + " UTC"
}

// markdownBold turns "**text**" pairs of one line of already HTML-escaped
// text into <b>text</b>, for channels that render HTML (Telegram's HTML
// parse mode, email). An unpaired "**" is left as it is.
func markdownBold(escaped string) string {
	if !strings.Contains(escaped, "**") {
		return escaped
	}
	parts := strings.Split(escaped, "**")
	if len(parts)%2 == 0 { // odd number of markers: leave the last one
		parts[len(parts)-2] += "**" + parts[len(parts)-1]
		parts = parts[:len(parts)-1]
	}
	var b strings.Builder
	for i, p := range parts {
		if i%2 == 1 {
			b.WriteString("<b>" + p + "</b>")
		} else {
			b.WriteString(p)
		}
	}
	return b.String()
}
