package jobs

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/atf/scheduler/internal/jobs/script"
)

// docSection returns the text of section "## title" of a Markdown file, up
// to the next "## ".
func docSection(t *testing.T, doc, title string) string {
	t.Helper()
	_, rest, ok := strings.Cut(doc, "\n## "+title+"\n")
	if !ok {
		t.Fatalf("no section %q", title)
	}
	if i := strings.Index(rest, "\n## "); i >= 0 {
		rest = rest[:i]
	}
	return rest
}

// jsonExamples returns every JSON value in the ```json blocks of text.
func jsonExamples(t *testing.T, text string) []json.RawMessage {
	t.Helper()
	var out []json.RawMessage
	for _, part := range strings.Split(text, "```json\n")[1:] {
		block, _, _ := strings.Cut(part, "```")
		dec := json.NewDecoder(strings.NewReader(block))
		for {
			var v json.RawMessage
			err := dec.Decode(&v)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("JSON example does not parse: %v\n%s", err, block)
			}
			out = append(out, v)
		}
	}
	return out
}

// TestREADMEJobsMatchesParsers keeps internal/jobs/README-jobs.md true:
// every key each parser accepts is documented in its section, and every
// JSON example of a section is accepted by that job type's parser.
func TestREADMEJobsMatchesParsers(t *testing.T) {
	raw, err := os.ReadFile("README-jobs.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	documents := func(section, key string) bool {
		return strings.Contains(section, "`"+key+"`") || strings.Contains(section, `"`+key+`"`)
	}
	root := t.TempDir()
	sc := script.Config{Root: root, AllowedDirs: []string{"src/ml/pipeline"}}
	cases := []struct {
		section string
		keys    [][]string
		parse   func(json.RawMessage) error
	}{
		{"screener", [][]string{screenerKeys, screenerOptionKeys}, func(r json.RawMessage) error {
			_, err := parseScreener(r, nil, "")
			return err
		}},
		{"schedule (ORIGINAL-SYSTEM.md §4)", [][]string{scheduleKeys, parameterKeys, optionKeys, scheduleNotify}, func(r json.RawMessage) error {
			_, err := ParseScheduleParams(r)
			return err
		}},
		{"report, notification", [][]string{reportKeys, messageKeys}, func(r json.RawMessage) error {
			if bytes.Contains(r, []byte(`"report_type"`)) {
				_, err := ParseReportParams(r)
				return err
			}
			_, err := ParseMessageParams(r)
			return err
		}},
		{"script, data_processing", nil, func(r json.RawMessage) error {
			p, err := script.ParseParams(r, sc)
			if err == nil && len(p.UnknownFields) > 0 {
				return errors.New("unknown keys " + strings.Join(p.UnknownFields, ", "))
			}
			return err
		}},
	}
	// The script example's file exists, so that its path validates.
	p := filepath.Join(root, "src/ml/pipeline/p05_ai_selector/run_p05_scan.py")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("print('x')\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		sec := docSection(t, doc, c.section)
		for _, list := range c.keys {
			for _, k := range list {
				if !documents(sec, k) {
					t.Errorf("README-jobs.md %q does not document the accepted key %q", c.section, k)
				}
			}
		}
		examples := jsonExamples(t, sec)
		if len(examples) == 0 {
			t.Errorf("README-jobs.md %q has no JSON example", c.section)
		}
		for _, ex := range examples {
			if err := c.parse(ex); err != nil {
				t.Errorf("README-jobs.md %q example is refused by the parser: %v\n%s", c.section, err, ex)
			}
		}
	}
}

// TestREADMEJobTypesTable checks the task_params keys named in the
// README's job-type table against the parsers' accepted keys.
func TestREADMEJobTypesTable(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	sec := docSection(t, string(raw), "Job types")
	accepted := map[string][]string{
		"report":       reportKeys,
		"notification": messageKeys,
		"screener":     screenerKeys,
		"schedule":     scheduleKeys,
	}
	word := regexp.MustCompile(`^[a-z_]+$`)
	seen := map[string]bool{}
	for _, l := range strings.Split(sec, "\n") {
		cells := strings.Split(strings.Trim(l, "|"), "|")
		if len(cells) < 3 || !strings.HasPrefix(l, "| `") {
			continue
		}
		jobType := strings.Trim(strings.TrimSpace(cells[0]), "`")
		keys, ok := accepted[jobType]
		if !ok {
			continue
		}
		seen[jobType] = true
		// The keys before any parenthesis: "action (`data_sync`, …), parameters".
		var names []string
		depth := 0
		var cur strings.Builder
		for _, r := range cells[1] {
			switch {
			case r == '(':
				depth++
			case r == ')':
				depth--
			case r == ',' && depth == 0:
				names = append(names, cur.String())
				cur.Reset()
			case depth == 0:
				cur.WriteRune(r)
			}
		}
		names = append(names, cur.String())
		for _, n := range names {
			n = strings.Trim(strings.TrimSpace(n), "`")
			if !word.MatchString(n) {
				continue
			}
			if !slices.Contains(keys, n) {
				t.Errorf("README job type %s lists task_params key %q, which its parser refuses (accepted: %s)", jobType, n, strings.Join(keys, ", "))
			}
		}
	}
	for jt := range accepted {
		if !seen[jt] {
			t.Errorf("README's job-type table has no row for %s", jt)
		}
	}
}
