package alerts

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/atf/scheduler/internal/marketdata"
)

// docExample is one JSON example of a document: a whole configuration, a
// rule node, or top-level members ("rule": ..., "rearm": ..., "options": ...)
// of a configuration.
type docExample struct {
	file string
	line int
	text string
}

// inlineCode matches `code` spans of a Markdown line.
var inlineCode = regexp.MustCompile("`([^`]+)`")

// docExamples extracts every example of the file: from the ```json and
// ```jsonc blocks each JSON value and each run of "key": value members, with
// // comments removed; with tables, also every inline code span of a table
// row that is a JSON object.
func docExamples(t *testing.T, file string, tables bool) []docExample {
	t.Helper()
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var out []docExample
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	inBlock, start, n := false, 0, 0
	var block strings.Builder
	for sc.Scan() {
		n++
		l := sc.Text()
		switch {
		case !inBlock && (strings.TrimSpace(l) == "```json" || strings.TrimSpace(l) == "```jsonc"):
			inBlock, start = true, n+1
			block.Reset()
		case inBlock && strings.TrimSpace(l) == "```":
			inBlock = false
			for _, ex := range splitExamples(t, file, start, block.String()) {
				out = append(out, ex)
			}
		case inBlock:
			if i := strings.Index(l, "//"); i >= 0 && !strings.Contains(l[:i], `"`) {
				l = l[:i]
			}
			block.WriteString(l + "\n")
		case tables && strings.HasPrefix(l, "|"):
			// Inline code in a table row that is a JSON object is an
			// example too; schematic spans ({"and": [node, ...]}) are not
			// JSON.
			for _, m := range inlineCode.FindAllStringSubmatch(l, -1) {
				var obj map[string]any
				if strings.HasPrefix(m[1], "{") && json.Unmarshal([]byte(m[1]), &obj) == nil {
					out = append(out, docExample{file, n, m[1]})
				}
			}
		}
	}
	if inBlock {
		t.Fatalf("%s: unterminated code block from line %d", file, start)
	}
	return out
}

// splitExamples splits one block into examples.
func splitExamples(t *testing.T, file string, firstLine int, text string) []docExample {
	t.Helper()
	var out []docExample
	lineOf := func(off int) int { return firstLine + strings.Count(text[:off], "\n") }
	i := 0
	skip := func() {
		for i < len(text) && strings.ContainsRune(" \t\r\n,", rune(text[i])) {
			i++
		}
	}
	value := func() string {
		dec := json.NewDecoder(strings.NewReader(text[i:]))
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("%s:%d: example is not JSON: %v\n%s", file, lineOf(i), err, text[i:])
		}
		i += int(dec.InputOffset())
		return string(v)
	}
	for skip(); i < len(text); skip() {
		at := i
		if text[i] != '"' {
			out = append(out, docExample{file, lineOf(at), value()})
			continue
		}
		// A run of members: wrap them into an object.
		var members []string
		for i < len(text) && text[i] == '"' {
			key := value()
			for i < len(text) && strings.ContainsRune(" \t:", rune(text[i])) {
				i++
			}
			members = append(members, key+": "+value())
			skip()
		}
		out = append(out, docExample{file, lineOf(at), "{" + strings.Join(members, ", ") + "}"})
	}
	return out
}

// docBars is a 600-bar hourly series that swings between about 60,000 and
// 70,000 (the levels of the examples) in waves of different lengths.
func docBars() []marketdata.Bar {
	bars := make([]marketdata.Bar, 600)
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	prev := 65000.0
	for i := range bars {
		c := 65000 + 4000*math.Sin(2*math.Pi*float64(i)/120) + 900*math.Sin(2*math.Pi*float64(i)/11)
		bars[i] = marketdata.Bar{Time: t0.Add(time.Duration(i) * time.Hour), Open: prev, High: math.Max(prev, c) + 150,
			Low: math.Min(prev, c) - 150, Close: c, Volume: 10 + float64(i%7)}
		prev = c
	}
	return bars
}

// docConfig turns an example into task_params: a whole configuration (ours
// or the Telegram bot's) as it is, a rule node or members completed with
// the parts they lack.
func docConfig(t *testing.T, ex docExample) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(ex.text), &m); err != nil {
		t.Fatalf("%s:%d: example is not a JSON object: %v", ex.file, ex.line, err)
	}
	if _, ok := m["config_json"]; ok {
		return []byte(ex.text)
	}
	_, hasTicker := m["ticker"]
	_, hasRule := m["rule"]
	if hasTicker && hasRule {
		return []byte(ex.text)
	}
	if hasTicker || m["type"] == "indicator" || m["logic"] != nil { // the content of a bot's config_json
		if !hasTicker { // the JSON generator's part; the bot command names the ticker
			m["ticker"] = "AAPL"
		}
		b, err := json.Marshal(map[string]any{"config_json": m, "telegram_user_id": "859865894"})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, k := range []string{"value", "field", "indicator", "change", "change_pct"} {
		if _, ok := m[k]; ok && len(m) <= 2 { // an operand (with an offset)
			other := map[string]string{"value": `{"field":"close"}`, "field": `{"value":65000}`}[k]
			if other == "" {
				other = `{"value":50}`
			}
			return []byte(alertJSON(`{"gt":{"lhs":` + ex.text + `,"rhs":` + other + `}}`))
		}
	}
	isMember := false
	for _, k := range []string{"rule", "rearm", "options", "notify"} {
		if _, ok := m[k]; ok {
			isMember = true
		}
	}
	if !isMember { // a rule node
		return []byte(alertJSON(ex.text))
	}
	if _, ok := m["rule"]; !ok {
		m["rule"] = map[string]any{"lt": map[string]any{"lhs": map[string]any{"field": "close"}, "rhs": map[string]any{"value": 62000}}}
	}
	m["ticker"], m["timeframe"] = "BTCUSDT", "1h"
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestDocumentedExamples parses every JSON example of README.md and
// internal/alerts/README-rules.md as an alert configuration and replays it
// on 600 hourly bars, so that the documents cannot drift from the parser.
func TestDocumentedExamples(t *testing.T) {
	bars := docBars()
	total, fired := 0, 0
	for _, file := range []string{"../../README.md", "README-rules.md"} {
		// README.md's tables hold other job types' task_params.
		exs := docExamples(t, file, file == "README-rules.md")
		if len(exs) < 5 {
			t.Fatalf("%s: only %d examples found; the extraction is broken", file, len(exs))
		}
		for _, ex := range exs {
			total++
			name := fmt.Sprintf("%s:%d", strings.TrimPrefix(file, "../../"), ex.line)
			t.Run(name, func(t *testing.T) {
				cfg := docConfig(t, ex)
				a, err := Parse(cfg)
				if err != nil {
					t.Fatalf("example does not parse:\n%s\n%v", ex.text, err)
				}
				sum, err := Replay(a, bars, ReplayOptions{}, nil)
				if err != nil {
					t.Fatalf("replay: %v\n%s", err, ex.text)
				}
				// Every bar after the warm-up is evaluated, unless the alert
				// became INACTIVE (trigger "once", expires_at).
				if sum.Evaluated == 0 || (sum.Evaluated+sum.WarmUp < sum.Bars && sum.Status != StatusInactive) {
					t.Fatalf("replay evaluated %d of %d bars (%d warm-up)", sum.Evaluated, sum.Bars, sum.WarmUp)
				}
				if sum.Triggers > 0 {
					fired++
				}
			})
		}
	}
	t.Logf("%d documented examples parsed and replayed, %d of them fired on the series", total, fired)
	if fired == 0 {
		t.Error("no example fired on the series; the replay proves little")
	}
}
