package cronexpr

import (
	"errors"
	"testing"
	"time"
)

// FuzzParse feeds arbitrary text to Parse. It must never panic; an
// accepted expression must be usable: Next from a fixed instant returns a
// later instant or zero (no fire within five years), never an earlier one,
// and never more than the 5-year horizon away. The seed corpus is in
// testdata/fuzz/FuzzParse and runs with every `go test`.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"* * * * *", "*/5 1-3 1,15 JAN-MAR MON-FRI", "0 0 30 2 *", "@every 1h", "@daily", "1-2/3,4 * ? * 7",
		"0 0 29 2 *", "@every 90s", "0 30 9 * * MON-FRI"} {
		f.Add(s)
	}
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		f.Fatal(err)
	}
	from := time.Date(2026, 3, 8, 6, 59, 30, 0, time.UTC) // just before a DST change in New York
	f.Fuzz(func(t *testing.T, expr string) {
		for _, loc := range []*time.Location{time.UTC, ny} {
			s, err := Parse(expr, loc)
			if err != nil {
				var nf *NeverFiresError
				if errors.As(err, &nf) && !errors.Is(err, ErrNeverFires) {
					t.Fatalf("%q: NeverFiresError does not match ErrNeverFires", expr)
				}
				if err.Error() == "" {
					t.Fatalf("%q: empty error", expr)
				}
				continue
			}
			n := s.Next(from)
			if n.IsZero() {
				continue
			}
			if !n.After(from) {
				t.Fatalf("%q in %s: Next(%s) = %s, not after", expr, loc, from, n)
			}
			if n.Sub(from) > 5*366*24*time.Hour+time.Hour {
				t.Fatalf("%q in %s: Next(%s) = %s, beyond the horizon", expr, loc, from, n)
			}
			if n2 := s.Next(n); !n2.IsZero() && !n2.After(n) {
				t.Fatalf("%q in %s: Next(%s) = %s, not after", expr, loc, n, n2)
			}
		}
	})
}
