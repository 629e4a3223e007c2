package cronexpr

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestParseNeverFires(t *testing.T) {
	tests := []struct{ expr, want string }{
		{"0 0 30 2 *", `cron "0 0 30 2 *" never fires: February has no day 30`},
		{"0 0 31 4 *", `cron "0 0 31 4 *" never fires: April has no day 31`},
		{"0 0 31 2,4,6,9,11 *", `cron "0 0 31 2,4,6,9,11 *" never fires: February, April, June, September and November have no day 31`},
		{"0 0 30,31 FEB ?", `cron "0 0 30,31 FEB ?" never fires: February has no day 30 or 31`},
		{"  0 0 31 apr,jun *  ", `cron "0 0 31 apr,jun *" never fires: April and June have no day 31`},
		{"*/5 * * 30 2 *", `cron "*/5 * * 30 2 *" never fires: February has no day 30`},            // 6 fields
		{"0 0 30-31 2 */2", `cron "0 0 30-31 2 */2" never fires: February has no day 30 or 31`},    // "*/2" weekdays: both must match
		{"0 0 31/2 4-6/2 *", `cron "0 0 31/2 4-6/2 *" never fires: April and June have no day 31`}, // steps
	}
	for _, tc := range tests {
		t.Run(tc.expr, func(t *testing.T) {
			s, err := Parse(tc.expr, time.UTC)
			if err == nil {
				t.Fatalf("Parse(%q) = %v, want error %q", tc.expr, s, tc.want)
			}
			if err.Error() != tc.want {
				t.Errorf("error = %q, want %q", err, tc.want)
			}
			var nf *NeverFiresError
			if !errors.Is(err, ErrNeverFires) || !errors.As(err, &nf) {
				t.Errorf("error %v does not match ErrNeverFires / *NeverFiresError", err)
			}
		})
	}
}

// Near misses fire, so Parse accepts them, and Next finds their fires.
func TestParseAcceptsNearMisses(t *testing.T) {
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct{ expr, first string }{
		{"0 0 29 2 *", "2028-02-29T00:00:00Z"}, // leap years
		{"0 0 31 * *", "2026-01-31T00:00:00Z"},
		{"0 0 30 2,3 *", "2026-03-30T00:00:00Z"}, // March has a 30th
		{"0 0 31 2,4,6,9,11,12 *", "2026-12-31T00:00:00Z"},
		{"0 0 30 2 MON", "2026-02-02T00:00:00Z"}, // both restricted: OR, every Monday of February
		{"0 0 29-31 2 *", "2028-02-29T00:00:00Z"},
		{"0 0 */30 2 *", "2026-02-01T00:00:00Z"}, // "*/30" = 1,31: day 1 exists
		{"@yearly", "2027-01-01T00:00:00Z"},
		{"@every 1h", "2026-01-01T01:00:00Z"},
	}
	for _, tc := range tests {
		t.Run(tc.expr, func(t *testing.T) {
			s, err := Parse(tc.expr, time.UTC)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.expr, err)
			}
			if got := s.Next(from).Format(time.RFC3339); got != tc.first {
				t.Errorf("Next = %s, want %s", got, tc.first)
			}
		})
	}
}

// TestNeverFiresMatchesCalendar checks the never-fires decision against a
// walk over every day of the 400-year Gregorian cycle, for day-of-month,
// month and day-of-week fields chosen to include the edge cases.
func TestNeverFiresMatchesCalendar(t *testing.T) {
	doms := []string{"*", "?", "1", "28", "29", "30", "31", "29,30", "30,31", "30-31", "31/2", "*/30", "*/15", "15,31"}
	months := []string{"*", "2", "4", "2,4", "4,6,9,11", "2,4,6,9,11", "1", "2-3", "11-12", "FEB,SEP"}
	dows := []string{"*", "?", "0", "1-5", "*/7", "*/3", "6,7"}
	start := daysFromCivil(2000, 1, 1)
	end := daysFromCivil(2400, 1, 1)
	var nNever, nFire int
	for _, dom := range doms {
		for _, month := range months {
			for _, dow := range dows {
				expr := fmt.Sprintf("0 0 %s %s %s", dom, month, dow)
				s, err := parse(expr, nil)
				if err != nil {
					t.Fatalf("parse(%q): %v", expr, err)
				}
				fires := false
				for z := start; z < end && !fires; z++ {
					_, m, d := civilFromDays(z)
					if s.month&(1<<m) == 0 {
						continue
					}
					domOK := s.dom&(1<<d) != 0
					dowOK := s.dow&(1<<floorMod(z+4, 7)) != 0 // 1970-01-01 was a Thursday
					if s.dayAnd {
						fires = domOK && dowOK
					} else {
						fires = domOK || dowOK
					}
				}
				_, perr := Parse(expr, nil)
				if fires {
					nFire++
				} else {
					nNever++
				}
				if never := errors.Is(perr, ErrNeverFires); never == fires {
					t.Errorf("%q: fires somewhere in 2000-2399 = %v, but Parse error = %v", expr, fires, perr)
				}
			}
		}
	}
	if nNever < 10 || nFire < 10 {
		t.Fatalf("cases: %d never fire, %d fire; the table should hold many of both", nNever, nFire)
	}
}
