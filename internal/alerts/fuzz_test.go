package alerts

import (
	"encoding/json"
	"testing"
)

// FuzzParseRule feeds arbitrary task_params to Parse. It must never panic,
// and an accepted configuration must survive its canonical form: marshal
// it, parse that again, and get the same rule text. The seed corpus is in
// testdata/fuzz/FuzzParseRule and runs with every `go test`.
func FuzzParseRule(f *testing.F) {
	for _, s := range []string{
		`{"ticker":"BTCUSDT","timeframe":"1h","rule":{"crosses_below":{"lhs":{"indicator":{"type":"RSI","params":{"period":14}}},"rhs":{"value":30}}},"rearm":{"hysteresis":5,"hysteresis_type":"fixed"}}`,
		`{"ticker":"^VIX","timeframe":"1d","rule":{"and":[{"gt":{"lhs":{"field":"close"},"rhs":{"value":20}}},{"not":{"touches":{"level":{"value":30}}}}]}}`,
		`{"config_json":"{\"ticker\": \"BTCUSDT\", \"price\": 65000.0, \"condition\": \"above\"}","telegram_user_id":"1"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		a, err := Parse(doc)
		if err != nil {
			if err.Error() == "" {
				t.Fatalf("%q: empty error", doc)
			}
			return
		}
		canon, err := json.Marshal(a)
		if err != nil {
			t.Fatalf("%q: marshal: %v", doc, err)
		}
		b, err := Parse(canon)
		if err != nil {
			t.Fatalf("%q: canonical form %s does not parse: %v", doc, canon, err)
		}
		if a.RuleString() != b.RuleString() {
			t.Fatalf("%q: rule %q became %q", doc, a.RuleString(), b.RuleString())
		}
	})
}
