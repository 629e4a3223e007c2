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
