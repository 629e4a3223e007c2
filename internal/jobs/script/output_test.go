package script

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestTailMatchesReference writes random chunks and compares the tail with
// the suffix of everything written.
func TestTailMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []string{"a", "é", "€", "𝄞", "\n", "\xff"}
	for round := range 200 {
		chars := 1 + rng.IntN(20)
		tl := newTail(chars)
		var all strings.Builder
		for range rng.IntN(30) {
			var chunk strings.Builder
			for range rng.IntN(3 * 4 * chars) {
				chunk.WriteString(alphabet[rng.IntN(len(alphabet))])
			}
			all.WriteString(chunk.String())
			if _, err := tl.Write([]byte(chunk.String())); err != nil {
				t.Fatal(err)
			}
		}
		got := tl.String(chars)
		// Reference: the last `chars` characters of everything, where the
		// buffer (4 bytes per char) may have cut one character in half at
		// the start — possible only when the buffer wrapped.
		want := lastChars(all.String(), chars)
		if got != want {
			t.Fatalf("round %d (chars=%d): tail = %q, want %q (all %q)", round, chars, got, want, all.String())
		}
	}
}

// lastChars returns the last n characters of s (invalid bytes count as one).
func lastChars(s string, n int) string {
	var starts []int
	for i := 0; i < len(s); {
		starts = append(starts, i)
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
	}
	if len(starts) <= n {
		return s
	}
	return s[starts[len(starts)-n]:]
}

func TestResultScanner(t *testing.T) {
	tests := []struct {
		name    string
		chunks  []string
		want    string // JSON of the result; with wantErr "" skips the comparison
		wantErr string
	}{
		{"none", []string{"hello\nworld\n"}, "{}", ""},
		{"one", []string{"x\n__SCHEDULER_RESULT__: {\"a\": 1}\ny\n"}, `{"a":1}`, ""},
		{"first wins", []string{"__SCHEDULER_RESULT__: {\"a\": 1}\n__SCHEDULER_RESULT__:{\"a\": 2}\n"}, `{"a":1}`, ""},
		{"first that parses wins", []string{"__SCHEDULER_RESULT__: {oops\n__SCHEDULER_RESULT__: {\"a\": 2}\n__SCHEDULER_RESULT__: {\"a\": 3}\n"}, `{"a":2}`, ""},
		{"last malformed when none parses", []string{"__SCHEDULER_RESULT__: {one\n__SCHEDULER_RESULT__: {two\n"}, `{"parse_error":"result line is not valid JSON: invalid character 't' looking for beginning of object key string","raw":"{two"}`, "not valid JSON"},
		{"split across writes", []string{"__SCHEDU", "LER_RESULT__: {\"a\"", ": [1, 2]}", "\n"}, `{"a":[1,2]}`, ""},
		{"no final newline, CRLF", []string{"__SCHEDULER_RESULT__: {\"a\": true}\r"}, `{"a":true}`, ""},
		{"prefix not at line start", []string{"say __SCHEDULER_RESULT__: {\"a\": 1}\n"}, "{}", ""},
		{"big integer kept", []string{"__SCHEDULER_RESULT__: {\"n\": 12345678901234567890}\n"}, `{"n":12345678901234567890}`, ""},
		{"invalid JSON", []string{"__SCHEDULER_RESULT__: {oops}\n"}, "", "not valid JSON"},
		{"later invalid does not override earlier valid", []string{"__SCHEDULER_RESULT__: {}\n__SCHEDULER_RESULT__: {\n"}, "{}", ""},
		{"array", []string{"__SCHEDULER_RESULT__: [1]\n"}, "", "JSON array, want an object"},
		{"trailing data", []string{"__SCHEDULER_RESULT__: {} {}\n"}, "", "data after the JSON object"},
		{"empty", []string{"__SCHEDULER_RESULT__:   \n"}, "", "no JSON object"},
		{"too long", []string{"__SCHEDULER_RESULT__: {\"a\": \"", strings.Repeat("x", MaxResultLineBytes), "\"}\n"}, "", "line of 1048586 bytes exceeds the 1 MiB limit"},
	}
	for _, tt := range tests {
		var s resultScanner
		for _, c := range tt.chunks {
			if _, err := s.Write([]byte(c)); err != nil {
				t.Fatal(err)
			}
		}
		s.finish()
		m, err := s.result()
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%s: error = %v, want %q", tt.name, err, tt.wantErr)
			}
			if m["parse_error"] != err.Error() || m["raw"] == nil {
				t.Errorf("%s: script_result = %v, want parse_error and raw", tt.name, m)
			}
			if b, _ := json.Marshal(m); tt.want != "" && string(b) != tt.want {
				t.Errorf("%s: result = %s, want %s", tt.name, b, tt.want)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		got := ""
		if m != nil {
			b, _ := json.Marshal(m)
			got = string(b)
		}
		if got != tt.want {
			t.Errorf("%s: result = %s, want %s", tt.name, got, tt.want)
		}
	}
}

// TestResultScannerBoundedMemory checks that long ordinary lines are not
// buffered.
func TestResultScannerBoundedMemory(t *testing.T) {
	var s resultScanner
	chunk := []byte(strings.Repeat("y", 64<<10))
	for range 64 {
		_, _ = s.Write(chunk)
	}
	if cap(s.line) > 64<<10+len(ResultPrefix) {
		t.Errorf("scanner kept %d bytes for an ordinary 4 MiB line", cap(s.line))
	}
}
