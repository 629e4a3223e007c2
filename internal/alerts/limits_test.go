package alerts

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"
)

// nestedNot returns an alert whose rule is k nested "not" nodes around
// close > 1: k + 3 levels of JSON nesting.
func nestedNot(k int) []byte {
	var b strings.Builder
	b.WriteString(`{"ticker":"BTCUSDT","timeframe":"1h","rule":`)
	for range k {
		b.WriteString(`{"not":`)
	}
	b.WriteString(`{"gt":{"lhs":{"field":"close"},"rhs":{"value":1}}}`)
	for range k {
		b.WriteString(`}`)
	}
	b.WriteString(`}`)
	return []byte(b.String())
}

// nestedAnd returns an alert whose rule nests k "and" nodes (2 levels
// each: the object and its array).
func nestedAnd(k int) []byte {
	var b strings.Builder
	b.WriteString(`{"ticker":"BTCUSDT","timeframe":"1h","rule":`)
	for range k {
		b.WriteString(`{"and":[`)
	}
	b.WriteString(`{"gt":{"lhs":{"field":"close"},"rhs":{"value":1}}}`)
	for range k {
		b.WriteString(`]}`)
	}
	b.WriteString(`}`)
	return []byte(b.String())
}

func TestRuleDepthLimit(t *testing.T) {
	ok := nestedNot(MaxRuleDepth - 3) // exactly MaxRuleDepth levels
	a, err := Parse(ok)
	if err != nil {
		t.Fatalf("a %d-level rule: %v", MaxRuleDepth, err)
	}
	if !strings.HasPrefix(a.RuleString(), "not (") {
		t.Errorf("rule %q", a.RuleString())
	}
	_, err = Parse(nestedNot(MaxRuleDepth - 2))
	var le *LimitError
	if !errors.As(err, &le) || le.Field != "rule" || le.Limit != MaxRuleDepth {
		t.Fatalf("a %d-level rule: got %v, want a LimitError on rule", MaxRuleDepth+1, err)
	}
	for _, want := range []string{"rule:", "nesting depth", "64 levels"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

// TestDeepRuleRefusedFast is the report of issue 13: a 72 KB request with
// a 9,000-level rule took 7.3 s and 600 MB. It must be refused in
// milliseconds with bounded memory, whatever the nesting's shape.
func TestDeepRuleRefusedFast(t *testing.T) {
	for name, doc := range map[string][]byte{"not": nestedNot(9000), "and": nestedAnd(9000)} {
		t.Run(name, func(t *testing.T) {
			if len(doc) < 70_000 {
				t.Fatalf("document of %d bytes; want the report's ~72 KB", len(doc))
			}
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			start := time.Now()
			_, err := Parse(doc)
			took := time.Since(start)
			runtime.ReadMemStats(&after)
			var le *LimitError
			if !errors.As(err, &le) || le.Field != "rule" {
				t.Fatalf("got %v, want a LimitError on rule", err)
			}
			if took > 200*time.Millisecond {
				t.Errorf("refused after %s, want < 200 ms", took)
			}
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 2<<20 {
				t.Errorf("allocated %d bytes, want < 2 MiB", alloc)
			}
			allocs := testing.AllocsPerRun(5, func() { _, _ = Parse(doc) })
			if allocs > 10 {
				t.Errorf("%v allocations per refusal, want a handful", allocs)
			}
		})
	}
}

func TestRuleNodeLimit(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"ticker":"BTCUSDT","timeframe":"1h","rule":{"or":[`)
	for i := range MaxRuleNodes / 4 {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"gt":{"lhs":{"field":"close"},"rhs":{"value":1}}}`) // 4 objects
	}
	b.WriteString(`]}}`)
	_, err := Parse([]byte(b.String()))
	var le *LimitError
	if !errors.As(err, &le) || le.Field != "rule" || le.What != "objects and arrays" {
		t.Fatalf("got %v, want a node-count LimitError on rule", err)
	}
	if !strings.Contains(err.Error(), fmt.Sprint(MaxRuleNodes)) {
		t.Errorf("error %q does not name the limit", err)
	}
}

func TestCheckBounds(t *testing.T) {
	deep := strings.Repeat("[", MaxRuleDepth+1) + strings.Repeat("]", MaxRuleDepth+1)
	for _, c := range []struct{ doc, wantField string }{
		{`{"rule": {"gt": {}}}`, ""},
		{`{"description": "` + strings.Repeat("{[", 100) + `", "rule": {}}`, ""}, // braces in strings do not count
		{`{"description": "a \"quoted\" {", "rule": ` + deep + `}`, "rule"},
		{`{"rearm": ` + deep + `}`, "rearm"},
		{`{"x": 1, "notify": {"a": ` + deep + `}}`, "notify"},
		{`[` + deep + `]`, "task_params"},
	} {
		err := CheckBounds([]byte(c.doc), "")
		var le *LimitError
		switch {
		case c.wantField == "" && err != nil:
			t.Errorf("%.60s: %v", c.doc, err)
		case c.wantField != "" && (!errors.As(err, &le) || le.Field != c.wantField):
			t.Errorf("%.60s: got %v, want a LimitError on %s", c.doc, err, c.wantField)
		}
	}
}

func TestBotConfigDepthLimit(t *testing.T) {
	inner := strings.Repeat(`{"not":`, 9000) + `{}` + strings.Repeat(`}`, 9000)
	doc := fmt.Sprintf(`{"config_json": %q, "telegram_user_id": "1"}`, `{"ticker":"X","condition":"custom","alert_type":"custom","rule":`+inner+`}`)
	start := time.Now()
	_, err := Parse([]byte(doc))
	var le *LimitError
	if !errors.As(err, &le) || !strings.HasPrefix(le.Field, "config_json") {
		t.Fatalf("got %v, want a LimitError on config_json", err)
	}
	if d := time.Since(start); d > 200*time.Millisecond {
		t.Errorf("refused after %s", d)
	}
}

func TestTickerSyntax(t *testing.T) {
	for _, tk := range []string{"BTCUSDT", "^VIX", "BTC-USD", "EURUSD=X", "BRK.B", "7203.T", "NASDAQ:AAPL", "btcusdt"} {
		if _, err := Parse([]byte(`{"ticker":"` + tk + `","timeframe":"1h","rule":{"gt":{"lhs":{"field":"close"},"rhs":{"value":1}}}}`)); err != nil {
			t.Errorf("ticker %s: %v", tk, err)
		}
	}
	for _, tk := range []string{"../../etc/passwd", "..", ".hidden", "a/b", `a\\b`, "BTC USDT", "x;rm", strings.Repeat("A", 33)} {
		_, err := Parse([]byte(`{"ticker":"` + tk + `","timeframe":"1h","rule":{"gt":{"lhs":{"field":"close"},"rhs":{"value":1}}}}`))
		if err == nil || !strings.Contains(err.Error(), "ticker") {
			t.Errorf("ticker %s: got %v, want an error naming the ticker", tk, err)
		}
	}
	_, err := Parse([]byte(`{"ticker":"../../etc/passwd","timeframe":"1h","rule":{"gt":{"lhs":{"field":"close"},"rhs":{"value":1}}}}`))
	if err == nil || !strings.Contains(err.Error(), `ticker: symbol "../../etc/passwd": must not contain / or \`) {
		t.Errorf("got %v", err)
	}
}

// BenchmarkParseDeepRule parses a rule at the depth limit (MaxRuleDepth
// levels of nesting): its allocations are bounded by the limit.
func BenchmarkParseDeepRule(b *testing.B) {
	doc := nestedNot(MaxRuleDepth - 3)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(doc); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRefuseDeepRule measures the refusal of the 9,000-level rule of
// issue 13.
func BenchmarkRefuseDeepRule(b *testing.B) {
	doc := nestedNot(9000)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(doc); err == nil {
			b.Fatal("accepted")
		}
	}
}
