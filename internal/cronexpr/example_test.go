package cronexpr_test

import (
	"fmt"
	"time"

	"github.com/atf/scheduler/internal/cronexpr"
)

func Example() {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		panic(err)
	}
	// 09:30 on weekdays, New York time.
	s, err := cronexpr.Parse("30 9 * * MON-FRI", ny)
	if err != nil {
		panic(err)
	}
	t := time.Date(2026, 3, 6, 12, 0, 0, 0, ny) // a Friday
	for range 3 {
		t = s.Next(t)
		fmt.Println(t.Format("Mon 2006-01-02 15:04 MST"))
	}
	fmt.Println(s, s.Location())
	// Output:
	// Mon 2026-03-09 09:30 EDT
	// Tue 2026-03-10 09:30 EDT
	// Wed 2026-03-11 09:30 EDT
	// 30 9 * * MON-FRI America/New_York
}

// A wall time skipped by the spring-forward gap fires once, right after the
// gap; a repeated wall time fires once, at its first occurrence.
func ExampleSchedule_Next_daylightSaving() {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		panic(err)
	}
	gap, _ := cronexpr.Parse("30 2 * * *", ny)
	fmt.Println(gap.Next(time.Date(2026, 3, 7, 12, 0, 0, 0, ny)).Format(time.RFC3339))

	twice, _ := cronexpr.Parse("30 1 * * *", ny)
	first := twice.Next(time.Date(2026, 10, 31, 12, 0, 0, 0, ny))
	fmt.Println(first.Format(time.RFC3339))
	fmt.Println(twice.Next(first).Format(time.RFC3339))

	// With "*" in the hour field the repeated hour fires in both passes.
	hourly, _ := cronexpr.Parse("30 * * * *", ny)
	t := first
	for range 2 {
		t = hourly.Next(t)
		fmt.Println(t.Format(time.RFC3339))
	}
	// Output:
	// 2026-03-08T03:00:00-04:00
	// 2026-11-01T01:30:00-04:00
	// 2026-11-02T01:30:00-05:00
	// 2026-11-01T01:30:00-05:00
	// 2026-11-01T02:30:00-05:00
}

// @every fires at whole multiples of the interval since the Unix epoch, so
// every scheduler instance computes the same instants.
func ExampleParse_every() {
	s, err := cronexpr.Parse("@every 15m", nil)
	if err != nil {
		panic(err)
	}
	fmt.Println(s.Next(time.Date(2026, 5, 1, 10, 7, 42, 0, time.UTC)))
	// Output:
	// 2026-05-01 10:15:00 +0000 UTC
}

func ExampleParse_error() {
	for _, expr := range []string{"0 9 * * 8", "0 9 * *", "@every 500ms"} {
		_, err := cronexpr.Parse(expr, nil)
		fmt.Println(err)
	}
	// Output:
	// day-of-week: 8 out of range 0-7
	// expected 5 or 6 fields, got 4 in "0 9 * *"
	// @every: 500ms must be a whole number of seconds >= 1s
}

func ExampleSchedule_String() {
	s, _ := cronexpr.Parse("@daily", time.UTC)
	fmt.Println(s.String(), s.Location())
	// Output:
	// @daily UTC
}

func ExampleSchedule_Location() {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		panic(err)
	}
	s, _ := cronexpr.Parse("0 8 * * *", berlin)
	fmt.Println(s.Location(), s.Next(time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)))
	// Output:
	// Europe/Berlin 2026-07-01 08:00:00 +0200 CEST
}
