package cronexpr

import (
	"testing"
	"time"
	_ "time/tzdata" // tests must not depend on the host's zoneinfo
)

// seq returns the first n fire instants after from.
func seq(s *Schedule, from time.Time, n int) []time.Time {
	var out []time.Time
	for range n {
		next := s.Next(from)
		if next.IsZero() {
			break
		}
		out = append(out, next)
		from = next
	}
	return out
}

// nextCase lists the fires after from; each want is RFC 3339 with the
// expected UTC offset, so a right wall clock with the wrong offset fails.
type nextCase struct {
	name string
	expr string
	zone string // "" = UTC
	from string // RFC 3339
	want []string
}

func runNextCases(t *testing.T, tests []nextCase) {
	t.Helper()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			loc := time.UTC
			if tc.zone != "" {
				loc = mustLoad(t, tc.zone)
			}
			s, err := Parse(tc.expr, loc)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.expr, err)
			}
			from, err := time.Parse(time.RFC3339Nano, tc.from)
			if err != nil {
				t.Fatal(err)
			}
			got := seq(s, from, len(tc.want))
			if len(got) != len(tc.want) {
				t.Fatalf("%q after %s: got %d fires %v, want %v", tc.expr, tc.from, len(got), got, tc.want)
			}
			for i, g := range got {
				if g.Location() != loc {
					t.Errorf("fire %d in %v, want %v", i, g.Location(), loc)
				}
				if g.Format(time.RFC3339) != tc.want[i] {
					t.Errorf("%q fire %d = %s, want %s", tc.expr, i, g.Format(time.RFC3339), tc.want[i])
				}
			}
		})
	}
}

func TestNextCalendar(t *testing.T) {
	runNextCases(t, []nextCase{
		{name: "every minute", expr: "* * * * *", from: "2026-01-01T00:00:00Z",
			want: []string{"2026-01-01T00:01:00Z", "2026-01-01T00:02:00Z"}},
		{name: "strictly after, sub-second", expr: "* * * * *", from: "2026-01-01T00:00:59.999Z",
			want: []string{"2026-01-01T00:01:00Z"}},
		{name: "sub-second on a fire", expr: "* * * * *", from: "2026-01-01T00:01:00.5Z",
			want: []string{"2026-01-01T00:02:00Z"}},
		{name: "month end 31 to 30", expr: "0 12 31 * *", from: "2026-01-31T12:00:00Z",
			want: []string{"2026-03-31T12:00:00Z", "2026-05-31T12:00:00Z", "2026-07-31T12:00:00Z", "2026-08-31T12:00:00Z"}},
		{name: "year end rollover", expr: "59 23 31 12 *", from: "2026-06-01T00:00:00Z",
			want: []string{"2026-12-31T23:59:00Z", "2027-12-31T23:59:00Z"}},
		{name: "last minute of day", expr: "59 23 * * *", from: "2026-02-28T23:59:00Z",
			want: []string{"2026-03-01T23:59:00Z"}},
		{name: "leap day", expr: "0 0 29 2 *", from: "2025-01-01T00:00:00Z",
			want: []string{"2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z"}},
		{name: "leap day 2000 is leap", expr: "0 0 29 2 *", from: "1999-01-01T00:00:00Z",
			want: []string{"2000-02-29T00:00:00Z", "2004-02-29T00:00:00Z"}},
		{name: "feb 28 and 29", expr: "0 6 28,29 2 *", from: "2027-03-01T00:00:00Z",
			want: []string{"2028-02-28T06:00:00Z", "2028-02-29T06:00:00Z", "2029-02-28T06:00:00Z"}},
		{name: "dom 31 only in long months", expr: "0 0 31 * *", from: "2026-04-01T00:00:00Z",
			want: []string{"2026-05-31T00:00:00Z", "2026-07-31T00:00:00Z"}},
		{name: "OR rule: 13th or Friday", expr: "0 0 13 * 5", from: "2026-02-01T00:00:00Z",
			// February 2026: Fridays 6, 13, 20, 27; the 13th is a Friday too (fires once).
			want: []string{"2026-02-06T00:00:00Z", "2026-02-13T00:00:00Z", "2026-02-20T00:00:00Z", "2026-02-27T00:00:00Z", "2026-03-06T00:00:00Z", "2026-03-13T00:00:00Z"}},
		{name: "OR rule: 1st or Monday", expr: "0 9 1 * MON", from: "2026-04-25T00:00:00Z",
			// 2026-04-27 Mon, 2026-05-01 Fri (the 1st), 2026-05-04 Mon.
			want: []string{"2026-04-27T09:00:00Z", "2026-05-01T09:00:00Z", "2026-05-04T09:00:00Z"}},
		{name: "dow star: only dom counts", expr: "0 0 13 * *", from: "2026-02-01T00:00:00Z",
			want: []string{"2026-02-13T00:00:00Z", "2026-03-13T00:00:00Z"}},
		{name: "dom star: only dow counts", expr: "0 0 * * FRI", from: "2026-02-01T00:00:00Z",
			want: []string{"2026-02-06T00:00:00Z", "2026-02-13T00:00:00Z"}},
		{name: "dom question mark", expr: "0 0 ? * fri", from: "2026-02-01T00:00:00Z",
			want: []string{"2026-02-06T00:00:00Z", "2026-02-13T00:00:00Z"}},
		{name: "dom */n with dow: both must match (Vixie)", expr: "0 0 */2 * MON", from: "2026-06-01T00:00:00Z",
			// Mondays in June 2026: 1, 8, 15, 22, 29; odd ones are 1, 15, 29.
			want: []string{"2026-06-15T00:00:00Z", "2026-06-29T00:00:00Z"}},
		{name: "sunday as 7", expr: "0 0 * * 7", from: "2026-03-02T00:00:00Z",
			want: []string{"2026-03-08T00:00:00Z", "2026-03-15T00:00:00Z"}},
		{name: "sunday as 0", expr: "0 0 * * 0", from: "2026-03-02T00:00:00Z",
			want: []string{"2026-03-08T00:00:00Z", "2026-03-15T00:00:00Z"}},
		{name: "weekend range 6-7", expr: "0 10 * * 6-7", from: "2026-03-02T00:00:00Z",
			want: []string{"2026-03-07T10:00:00Z", "2026-03-08T10:00:00Z", "2026-03-14T10:00:00Z"}},
		{name: "weekdays by name", expr: "30 8 * * Mon-Fri", from: "2026-03-06T09:00:00Z",
			want: []string{"2026-03-09T08:30:00Z", "2026-03-10T08:30:00Z"}},
		{name: "month names", expr: "0 0 1 jan,JUL *", from: "2026-02-01T00:00:00Z",
			want: []string{"2026-07-01T00:00:00Z", "2027-01-01T00:00:00Z"}},
		{name: "month range step", expr: "0 0 1 FEB-DEC/3 *", from: "2026-01-01T00:00:00Z",
			want: []string{"2026-02-01T00:00:00Z", "2026-05-01T00:00:00Z", "2026-08-01T00:00:00Z", "2026-11-01T00:00:00Z", "2027-02-01T00:00:00Z"}},
		{name: "minute step", expr: "*/20 * * * *", from: "2026-01-01T00:50:00Z",
			want: []string{"2026-01-01T01:00:00Z", "2026-01-01T01:20:00Z", "2026-01-01T01:40:00Z"}},
		{name: "a/n from a to max", expr: "50/5 * * * *", from: "2026-01-01T00:00:00Z",
			want: []string{"2026-01-01T00:50:00Z", "2026-01-01T00:55:00Z", "2026-01-01T01:50:00Z"}},
		{name: "range step list", expr: "0 1-5/2,22 * * *", from: "2026-01-01T00:00:00Z",
			want: []string{"2026-01-01T01:00:00Z", "2026-01-01T03:00:00Z", "2026-01-01T05:00:00Z", "2026-01-01T22:00:00Z", "2026-01-02T01:00:00Z"}},
		{name: "6-field seconds", expr: "*/20 * * * * *", from: "2026-01-01T00:00:45Z",
			want: []string{"2026-01-01T00:01:00Z", "2026-01-01T00:01:20Z", "2026-01-01T00:01:40Z"}},
		{name: "6-field specific", expr: "15 30 9 * * MON", from: "2026-03-09T09:30:15Z",
			want: []string{"2026-03-16T09:30:15Z"}},
		{name: "6-field every second", expr: "* * * * * *", from: "2026-01-01T23:59:58.5Z",
			want: []string{"2026-01-01T23:59:59Z", "2026-01-02T00:00:00Z"}},
		{name: "@yearly", expr: "@yearly", from: "2026-05-05T00:00:00Z",
			want: []string{"2027-01-01T00:00:00Z", "2028-01-01T00:00:00Z"}},
		{name: "@monthly", expr: "@monthly", from: "2026-01-31T00:00:00Z",
			want: []string{"2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z"}},
		{name: "@weekly", expr: "@weekly", from: "2026-03-04T00:00:00Z",
			want: []string{"2026-03-08T00:00:00Z", "2026-03-15T00:00:00Z"}},
		{name: "@daily", expr: "@daily", from: "2026-03-04T00:00:00Z",
			want: []string{"2026-03-05T00:00:00Z"}},
		{name: "@hourly", expr: "@hourly", from: "2026-03-04T00:59:59Z",
			want: []string{"2026-03-04T01:00:00Z", "2026-03-04T02:00:00Z"}},
		{name: "before 1970", expr: "0 0 29 2 *", from: "1899-03-01T00:00:00Z",
			want: []string{"1904-02-29T00:00:00Z"}}, // 1900 is not a leap year
		{name: "zone: daily in Berlin", expr: "0 9 * * *", zone: "Europe/Berlin", from: "2026-01-10T12:00:00+01:00",
			want: []string{"2026-01-11T09:00:00+01:00"}},
		{name: "zone: leap day in New York", expr: "0 0 29 2 *", zone: "America/New_York", from: "2026-01-01T00:00:00-05:00",
			want: []string{"2028-02-29T00:00:00-05:00"}},
	})
}

func TestNextNone(t *testing.T) {
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	// Parse rejects these (see TestParseNeverFires); Next still gives up
	// on them without looping.
	for _, expr := range []string{"0 0 30 2 *", "0 0 31 4,6,9,11 *", "0 0 31 2 *"} {
		s, err := parse(expr, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.Next(from); !got.IsZero() {
			t.Errorf("%q: Next = %v, want zero Time", expr, got)
		}
	}
	// 2096-02-29 is followed by 2104-02-29 (2100 is not a leap year): more
	// than 5 years, so Next gives up.
	s, err := Parse("0 0 29 2 *", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Next(time.Date(2096, 3, 1, 0, 0, 0, 0, time.UTC)); !got.IsZero() {
		t.Errorf("after 2096-03-01: Next = %v, want zero Time", got)
	}
	// Feb 29 that is a Sunday (day-of-week "*/7" starts with "*", so both
	// day fields must match): 2032 is more than 5 years after 2026.
	s, err = Parse("0 0 29 2 */7", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Next(from); !got.IsZero() {
		t.Errorf("%q: Next = %v, want zero Time", s, got)
	}
	if got, want := s.Next(time.Date(2028, 1, 1, 0, 0, 0, 0, time.UTC)), time.Date(2032, 2, 29, 0, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("%q: Next = %v, want %v", s, got, want)
	}
}

func TestNextEvery(t *testing.T) {
	runNextCases(t, []nextCase{
		{name: "1h aligned to epoch", expr: "@every 1h", from: "2026-03-04T10:17:23Z",
			want: []string{"2026-03-04T11:00:00Z", "2026-03-04T12:00:00Z"}},
		{name: "on a multiple: strictly after", expr: "@every 1h", from: "2026-03-04T11:00:00Z",
			want: []string{"2026-03-04T12:00:00Z"}},
		{name: "90m crosses hours", expr: "@every 90m", from: "1970-01-01T00:00:00Z",
			want: []string{"1970-01-01T01:30:00Z", "1970-01-01T03:00:00Z", "1970-01-01T04:30:00Z"}},
		{name: "before epoch", expr: "@every 7s", from: "1969-12-31T23:59:50Z",
			want: []string{"1969-12-31T23:59:53Z", "1970-01-01T00:00:00Z", "1970-01-01T00:00:07Z"}},
		{name: "zone does not change instants", expr: "@every 1h", zone: "Asia/Kolkata", from: "2026-03-04T10:17:23+05:30",
			want: []string{"2026-03-04T10:30:00+05:30", "2026-03-04T11:30:00+05:30"}},
		{name: "through spring forward", expr: "@every 30m", zone: "America/New_York", from: "2026-03-08T01:15:00-05:00",
			want: []string{"2026-03-08T01:30:00-05:00", "2026-03-08T03:00:00-04:00", "2026-03-08T03:30:00-04:00"}},
		{name: "through fall back", expr: "@every 30m", zone: "America/New_York", from: "2026-11-01T01:15:00-04:00",
			want: []string{"2026-11-01T01:30:00-04:00", "2026-11-01T01:00:00-05:00", "2026-11-01T01:30:00-05:00", "2026-11-01T02:00:00-05:00"}},
	})
	// Several instances starting at different moments agree on the instants.
	s, err := Parse("@every 45s", nil)
	if err != nil {
		t.Fatal(err)
	}
	base := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	want := s.Next(base.Add(time.Second))
	for _, off := range []time.Duration{2 * time.Second, 17 * time.Second, 29*time.Second + 123} {
		if got := s.Next(base.Add(off)); !got.Equal(want) {
			t.Errorf("Next(base+%v) = %v, want %v", off, got, want)
		}
	}
	if want.Unix()%45 != 0 {
		t.Errorf("%v is not a multiple of 45s since the epoch", want)
	}
}

// Spring forward: America/New_York 2026-03-08 02:00 EST -> 03:00 EDT;
// Europe/Berlin 2026-03-29 02:00 CET -> 03:00 CEST.
func TestNextDSTSpringForward(t *testing.T) {
	runNextCases(t, []nextCase{
		{name: "NY fixed hour in gap fires once after gap", expr: "30 2 * * *", zone: "America/New_York", from: "2026-03-07T12:00:00-05:00",
			want: []string{"2026-03-08T03:00:00-04:00", "2026-03-09T02:30:00-04:00"}},
		{name: "NY gap start", expr: "0 2 * * *", zone: "America/New_York", from: "2026-03-07T12:00:00-05:00",
			want: []string{"2026-03-08T03:00:00-04:00", "2026-03-09T02:00:00-04:00"}},
		{name: "NY several gap times fire once", expr: "*/15 2 * * *", zone: "America/New_York", from: "2026-03-08T00:00:00-05:00",
			want: []string{"2026-03-08T03:00:00-04:00", "2026-03-09T02:00:00-04:00"}},
		{name: "NY gap and 3:00 fire once", expr: "0 2,3 * * *", zone: "America/New_York", from: "2026-03-08T00:00:00-05:00",
			want: []string{"2026-03-08T03:00:00-04:00", "2026-03-09T02:00:00-04:00", "2026-03-09T03:00:00-04:00"}},
		{name: "NY gap then 3:30 fires too", expr: "30 2,3 * * *", zone: "America/New_York", from: "2026-03-08T00:00:00-05:00",
			want: []string{"2026-03-08T03:00:00-04:00", "2026-03-08T03:30:00-04:00", "2026-03-09T02:30:00-04:00"}},
		{name: "NY hour star skips the gap", expr: "0 * * * *", zone: "America/New_York", from: "2026-03-08T00:30:00-05:00",
			want: []string{"2026-03-08T01:00:00-05:00", "2026-03-08T03:00:00-04:00", "2026-03-08T04:00:00-04:00"}},
		{name: "NY every 15 minutes", expr: "*/15 * * * *", zone: "America/New_York", from: "2026-03-08T01:30:00-05:00",
			want: []string{"2026-03-08T01:45:00-05:00", "2026-03-08T03:00:00-04:00", "2026-03-08T03:15:00-04:00"}},
		{name: "NY hour step skips the gap", expr: "30 */2 * * *", zone: "America/New_York", from: "2026-03-08T00:00:00-05:00",
			want: []string{"2026-03-08T00:30:00-05:00", "2026-03-08T04:30:00-04:00"}},
		{name: "NY fixed hours around gap", expr: "0 1,2,3 * * *", zone: "America/New_York", from: "2026-03-08T00:00:00-05:00",
			want: []string{"2026-03-08T01:00:00-05:00", "2026-03-08T03:00:00-04:00", "2026-03-09T01:00:00-04:00"}},
		{name: "NY 6-field in gap", expr: "30 59 2 * * *", zone: "America/New_York", from: "2026-03-08T01:59:59-05:00",
			want: []string{"2026-03-08T03:00:00-04:00", "2026-03-09T02:59:30-04:00"}},
		{name: "NY weekly Sunday in gap", expr: "30 2 * * SUN", zone: "America/New_York", from: "2026-03-01T12:00:00-05:00",
			want: []string{"2026-03-08T03:00:00-04:00", "2026-03-15T02:30:00-04:00"}},
		{name: "NY from inside the gap instant", expr: "30 2 * * *", zone: "America/New_York", from: "2026-03-08T03:00:00-04:00",
			want: []string{"2026-03-09T02:30:00-04:00"}},
		{name: "Berlin fixed hour in gap", expr: "30 2 * * *", zone: "Europe/Berlin", from: "2026-03-28T12:00:00+01:00",
			want: []string{"2026-03-29T03:00:00+02:00", "2026-03-30T02:30:00+02:00"}},
		{name: "Berlin hour star skips the gap", expr: "0 * * * *", zone: "Europe/Berlin", from: "2026-03-29T00:30:00+01:00",
			want: []string{"2026-03-29T01:00:00+01:00", "2026-03-29T03:00:00+02:00", "2026-03-29T04:00:00+02:00"}},
		{name: "Berlin every 20 minutes", expr: "*/20 * * * *", zone: "Europe/Berlin", from: "2026-03-29T01:30:00+01:00",
			want: []string{"2026-03-29T01:40:00+01:00", "2026-03-29T03:00:00+02:00", "2026-03-29T03:20:00+02:00"}},
		{name: "Berlin daily unaffected", expr: "0 9 * * *", zone: "Europe/Berlin", from: "2026-03-28T09:00:00+01:00",
			want: []string{"2026-03-29T09:00:00+02:00", "2026-03-30T09:00:00+02:00"}},
	})
}

// Fall back: America/New_York 2026-11-01 02:00 EDT -> 01:00 EST (01:00-01:59
// twice); Europe/Berlin 2026-10-25 03:00 CEST -> 02:00 CET (02:00-02:59 twice).
func TestNextDSTFallBack(t *testing.T) {
	runNextCases(t, []nextCase{
		{name: "NY fixed hour fires at first occurrence only", expr: "30 1 * * *", zone: "America/New_York", from: "2026-10-31T12:00:00-04:00",
			want: []string{"2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00"}},
		{name: "NY fixed hour, from inside second pass", expr: "30 1 * * *", zone: "America/New_York", from: "2026-11-01T01:10:00-05:00",
			want: []string{"2026-11-02T01:30:00-05:00"}},
		{name: "NY fixed hour, from inside first pass after the fire", expr: "30 1 * * *", zone: "America/New_York", from: "2026-11-01T01:45:00-04:00",
			want: []string{"2026-11-02T01:30:00-05:00"}},
		{name: "NY fixed hour, several minutes", expr: "0,30 1 * * *", zone: "America/New_York", from: "2026-11-01T00:00:00-04:00",
			want: []string{"2026-11-01T01:00:00-04:00", "2026-11-01T01:30:00-04:00", "2026-11-02T01:00:00-05:00"}},
		{name: "NY fixed hours after the repeat", expr: "0 1,2 * * *", zone: "America/New_York", from: "2026-11-01T00:00:00-04:00",
			want: []string{"2026-11-01T01:00:00-04:00", "2026-11-01T02:00:00-05:00", "2026-11-02T01:00:00-05:00"}},
		{name: "NY hour star fires in both passes", expr: "30 * * * *", zone: "America/New_York", from: "2026-11-01T00:00:00-04:00",
			want: []string{"2026-11-01T00:30:00-04:00", "2026-11-01T01:30:00-04:00", "2026-11-01T01:30:00-05:00", "2026-11-01T02:30:00-05:00"}},
		{name: "NY every 15 real minutes", expr: "*/15 * * * *", zone: "America/New_York", from: "2026-11-01T01:30:00-04:00",
			want: []string{"2026-11-01T01:45:00-04:00", "2026-11-01T01:00:00-05:00", "2026-11-01T01:15:00-05:00", "2026-11-01T01:30:00-05:00", "2026-11-01T01:45:00-05:00", "2026-11-01T02:00:00-05:00"}},
		{name: "NY 6-field hour star", expr: "59 59 * * * *", zone: "America/New_York", from: "2026-11-01T01:00:00-04:00",
			want: []string{"2026-11-01T01:59:59-04:00", "2026-11-01T01:59:59-05:00", "2026-11-01T02:59:59-05:00"}},
		{name: "NY midnight unaffected", expr: "0 0 * * *", zone: "America/New_York", from: "2026-10-31T00:00:00-04:00",
			want: []string{"2026-11-01T00:00:00-04:00", "2026-11-02T00:00:00-05:00"}},
		{name: "Berlin fixed hour fires at first occurrence only", expr: "30 2 * * *", zone: "Europe/Berlin", from: "2026-10-24T12:00:00+02:00",
			want: []string{"2026-10-25T02:30:00+02:00", "2026-10-26T02:30:00+01:00"}},
		{name: "Berlin fixed hour, from inside second pass", expr: "45 2 * * *", zone: "Europe/Berlin", from: "2026-10-25T02:10:00+01:00",
			want: []string{"2026-10-26T02:45:00+01:00"}},
		{name: "Berlin hour star fires in both passes", expr: "0 * * * *", zone: "Europe/Berlin", from: "2026-10-25T01:30:00+02:00",
			want: []string{"2026-10-25T02:00:00+02:00", "2026-10-25T02:00:00+01:00", "2026-10-25T03:00:00+01:00"}},
		{name: "Berlin every 20 real minutes", expr: "*/20 * * * *", zone: "Europe/Berlin", from: "2026-10-25T02:30:00+02:00",
			want: []string{"2026-10-25T02:40:00+02:00", "2026-10-25T02:00:00+01:00", "2026-10-25T02:20:00+01:00", "2026-10-25T02:40:00+01:00", "2026-10-25T03:00:00+01:00"}},
	})
}

// TestNextProperties checks invariants over many schedules and start
// instants: fires strictly increase, fall on whole seconds, are in the
// schedule's zone, and no instant repeats.
func TestNextProperties(t *testing.T) {
	exprs := []string{"* * * * *", "*/7 * * * *", "30 1 * * *", "30 2 * * *", "0 2,3 * * *", "*/10 2 * * 0", "0 */3 * * *", "15 3 * * 7", "*/30 * * * * *"}
	for _, zone := range []string{"America/New_York", "Europe/Berlin", "Australia/Lord_Howe", "UTC"} {
		loc := mustLoad(t, zone)
		for _, expr := range exprs {
			s, err := Parse(expr, loc)
			if err != nil {
				t.Fatal(err)
			}
			for _, from := range []time.Time{
				time.Date(2026, 3, 7, 22, 0, 0, 0, time.UTC),
				time.Date(2026, 10, 24, 22, 0, 0, 0, time.UTC),
				time.Date(2026, 4, 4, 12, 0, 0, 0, time.UTC),  // Lord Howe: -30 min
				time.Date(2026, 10, 3, 12, 0, 0, 0, time.UTC), // Lord Howe: +30 min
			} {
				prev := from
				for range 400 {
					n := s.Next(prev)
					if !n.After(prev) || n.Nanosecond() != 0 || n.Location() != loc {
						t.Fatalf("%s %q: Next(%v) = %v", zone, expr, prev, n)
					}
					prev = n
				}
			}
		}
	}
}

// TestNextLongRun steps a daily schedule through decades in both zones: each
// fire is the next calendar day at 12:00 local time. This crosses every DST
// transition and leap-year end, including years past the zone tables.
func TestNextLongRun(t *testing.T) {
	for _, zone := range []string{"America/New_York", "Europe/Berlin"} {
		loc := mustLoad(t, zone)
		s, err := Parse("0 12 * * *", loc)
		if err != nil {
			t.Fatal(err)
		}
		want := time.Date(2026, 1, 1, 12, 0, 0, 0, loc)
		from := want.Add(-time.Hour)
		for want.Year() < 2100 {
			got := s.Next(from)
			if !got.Equal(want) {
				t.Fatalf("%s: Next(%v) = %v, want %v", zone, from, got, want)
			}
			from, want = got, want.AddDate(0, 0, 1)
		}
	}
}
