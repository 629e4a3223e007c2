package cronexpr

import (
	"testing"
	"time"
)

// BenchmarkNext measures one Next call for typical and worst-case schedules
// in a DST zone. Each iteration advances from the previous fire, as the
// scheduler's claim path does.
func BenchmarkNext(b *testing.B) {
	ny := mustLoad(b, "America/New_York")
	for _, bc := range []struct{ name, expr string }{
		{"every-minute", "* * * * *"},
		{"every-15-minutes", "*/15 * * * *"},
		{"weekdays-0930", "30 9 * * MON-FRI"},
		{"6-field-seconds", "*/10 * 9-16 * * 1-5"},
		{"monthly-or-rule", "0 0 1,15 * SUN"},
		{"dst-gap-0230", "30 2 * * *"},
		{"leap-day", "0 0 29 2 *"},
		{"never-feb-30", "0 0 30 2 *"},
		{"every-90s", "@every 90s"},
	} {
		s, err := parse(bc.expr, ny) // never-feb-30 is rejected by Parse
		if err != nil {
			b.Fatal(err)
		}
		start := time.Date(2026, 1, 1, 0, 0, 0, 0, ny)
		b.Run(bc.name, func(b *testing.B) {
			t := start
			b.ReportAllocs()
			for b.Loop() {
				n := s.Next(t)
				if n.IsZero() || n.Year() > 2030 {
					n = start
				}
				t = n
			}
		})
	}
}

// BenchmarkParse measures parsing a typical expression.
func BenchmarkParse(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse("*/15 9-17 1,15 JAN-MAR MON-FRI", time.UTC); err != nil {
			b.Fatal(err)
		}
	}
}
