package cronexpr

import (
	"testing"
	"time"
)

// bitsOf returns a mask with the given bits set.
func bitsOf(vals ...int) uint64 {
	var m uint64
	for _, v := range vals {
		m |= 1 << v
	}
	return m
}

func rangeBits(lo, hi, step int) uint64 {
	var m uint64
	for v := lo; v <= hi; v += step {
		m |= 1 << v
	}
	return m
}

func TestParseValid(t *testing.T) {
	tests := []struct {
		expr                      string
		second, minute, hour, dom uint64
		month, dow                uint64
		dayAnd, hourWild          bool
	}{
		{expr: "* * * * *", second: bitsOf(0), minute: rangeBits(0, 59, 1), hour: rangeBits(0, 23, 1),
			dom: rangeBits(1, 31, 1), month: rangeBits(1, 12, 1), dow: rangeBits(0, 6, 1), dayAnd: true, hourWild: true},
		{expr: "30 2 * * *", second: bitsOf(0), minute: bitsOf(30), hour: bitsOf(2),
			dom: rangeBits(1, 31, 1), month: rangeBits(1, 12, 1), dow: rangeBits(0, 6, 1), dayAnd: true},
		{expr: "*/15 9-17/2 1,15 JAN-mar,dec MON-FRI", second: bitsOf(0), minute: bitsOf(0, 15, 30, 45),
			hour: bitsOf(9, 11, 13, 15, 17), dom: bitsOf(1, 15), month: bitsOf(1, 2, 3, 12), dow: bitsOf(1, 2, 3, 4, 5)},
		{expr: "5/20 0 ? * 7", second: bitsOf(0), minute: bitsOf(5, 25, 45), hour: bitsOf(0),
			dom: rangeBits(1, 31, 1), month: rangeBits(1, 12, 1), dow: bitsOf(0), dayAnd: true},
		{expr: "0 0 * * 0,7", second: bitsOf(0), minute: bitsOf(0), hour: bitsOf(0),
			dom: rangeBits(1, 31, 1), month: rangeBits(1, 12, 1), dow: bitsOf(0), dayAnd: true},
		{expr: "0 0 * * 5-7", second: bitsOf(0), minute: bitsOf(0), hour: bitsOf(0),
			dom: rangeBits(1, 31, 1), month: rangeBits(1, 12, 1), dow: bitsOf(0, 5, 6), dayAnd: true},
		{expr: "0 0 * * sun,Sat", second: bitsOf(0), minute: bitsOf(0), hour: bitsOf(0),
			dom: rangeBits(1, 31, 1), month: rangeBits(1, 12, 1), dow: bitsOf(0, 6), dayAnd: true},
		{expr: "0 0 */2 * *", second: bitsOf(0), minute: bitsOf(0), hour: bitsOf(0),
			dom: rangeBits(1, 31, 2), month: rangeBits(1, 12, 1), dow: rangeBits(0, 6, 1), dayAnd: true},
		{expr: "0 0 1 * 1", second: bitsOf(0), minute: bitsOf(0), hour: bitsOf(0),
			dom: bitsOf(1), month: rangeBits(1, 12, 1), dow: bitsOf(1)},
		{expr: "*/10 0 */6 * * *", second: bitsOf(0, 10, 20, 30, 40, 50), minute: bitsOf(0), hour: bitsOf(0, 6, 12, 18),
			dom: rangeBits(1, 31, 1), month: rangeBits(1, 12, 1), dow: rangeBits(0, 6, 1), dayAnd: true, hourWild: true},
		{expr: "  0\t0  1 1 *  ", second: bitsOf(0), minute: bitsOf(0), hour: bitsOf(0),
			dom: bitsOf(1), month: bitsOf(1), dow: rangeBits(0, 6, 1), dayAnd: true},
		{expr: "59 23 31 12 0-7/7", second: bitsOf(0), minute: bitsOf(59), hour: bitsOf(23),
			dom: bitsOf(31), month: bitsOf(12), dow: bitsOf(0)},
		{expr: "0 0 * * */2", second: bitsOf(0), minute: bitsOf(0), hour: bitsOf(0),
			dom: rangeBits(1, 31, 1), month: rangeBits(1, 12, 1), dow: bitsOf(0, 2, 4, 6), dayAnd: true},
		{expr: "0 0 * * 1/2", second: bitsOf(0), minute: bitsOf(0), hour: bitsOf(0),
			dom: rangeBits(1, 31, 1), month: rangeBits(1, 12, 1), dow: bitsOf(1, 3, 5), dayAnd: true},
		{expr: "0 0 * * 1-7/2", second: bitsOf(0), minute: bitsOf(0), hour: bitsOf(0),
			dom: rangeBits(1, 31, 1), month: rangeBits(1, 12, 1), dow: bitsOf(0, 1, 3, 5), dayAnd: true},
		{expr: "@yearly", second: bitsOf(0), minute: bitsOf(0), hour: bitsOf(0),
			dom: bitsOf(1), month: bitsOf(1), dow: rangeBits(0, 6, 1), dayAnd: true},
		{expr: "@Annually", second: bitsOf(0), minute: bitsOf(0), hour: bitsOf(0),
			dom: bitsOf(1), month: bitsOf(1), dow: rangeBits(0, 6, 1), dayAnd: true},
		{expr: "@monthly", second: bitsOf(0), minute: bitsOf(0), hour: bitsOf(0),
			dom: bitsOf(1), month: rangeBits(1, 12, 1), dow: rangeBits(0, 6, 1), dayAnd: true},
		{expr: "@weekly", second: bitsOf(0), minute: bitsOf(0), hour: bitsOf(0),
			dom: rangeBits(1, 31, 1), month: rangeBits(1, 12, 1), dow: bitsOf(0), dayAnd: true},
		{expr: "@daily", second: bitsOf(0), minute: bitsOf(0), hour: bitsOf(0),
			dom: rangeBits(1, 31, 1), month: rangeBits(1, 12, 1), dow: rangeBits(0, 6, 1), dayAnd: true},
		{expr: "@midnight", second: bitsOf(0), minute: bitsOf(0), hour: bitsOf(0),
			dom: rangeBits(1, 31, 1), month: rangeBits(1, 12, 1), dow: rangeBits(0, 6, 1), dayAnd: true},
		{expr: "@hourly", second: bitsOf(0), minute: bitsOf(0), hour: rangeBits(0, 23, 1),
			dom: rangeBits(1, 31, 1), month: rangeBits(1, 12, 1), dow: rangeBits(0, 6, 1), dayAnd: true, hourWild: true},
	}
	for _, tc := range tests {
		t.Run(tc.expr, func(t *testing.T) {
			s, err := Parse(tc.expr, nil)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.expr, err)
			}
			if s.String() != tc.expr {
				t.Errorf("String() = %q, want %q", s.String(), tc.expr)
			}
			if s.Location() != time.UTC {
				t.Errorf("Location() = %v, want UTC", s.Location())
			}
			check := func(name string, got, want uint64) {
				if got != want {
					t.Errorf("%s = %b, want %b", name, got, want)
				}
			}
			check("second", s.second, tc.second)
			check("minute", s.minute, tc.minute)
			check("hour", s.hour, tc.hour)
			check("dom", s.dom, tc.dom)
			check("month", s.month, tc.month)
			check("dow", s.dow, tc.dow)
			if s.dayAnd != tc.dayAnd {
				t.Errorf("dayAnd = %v, want %v", s.dayAnd, tc.dayAnd)
			}
			if s.hourWild != tc.hourWild {
				t.Errorf("hourWild = %v, want %v", s.hourWild, tc.hourWild)
			}
		})
	}
}

func TestParseEvery(t *testing.T) {
	tests := []struct {
		expr string
		want int64
	}{
		{"@every 1s", 1},
		{"@every 90s", 90},
		{"@every 1h30m", 5400},
		{"@EVERY 24h", 86400},
		{"@every 1.5s", 0}, // error, see TestParseErrors
	}
	for _, tc := range tests {
		s, err := Parse(tc.expr, nil)
		if tc.want == 0 {
			if err == nil {
				t.Errorf("Parse(%q): want error", tc.expr)
			}
			continue
		}
		if err != nil {
			t.Fatalf("Parse(%q): %v", tc.expr, err)
		}
		if s.every != tc.want {
			t.Errorf("Parse(%q).every = %d, want %d", tc.expr, s.every, tc.want)
		}
	}
}

func TestParseLocation(t *testing.T) {
	ny := mustLoad(t, "America/New_York")
	s, err := Parse("0 9 * * MON-FRI", ny)
	if err != nil {
		t.Fatal(err)
	}
	if s.Location() != ny {
		t.Errorf("Location() = %v, want %v", s.Location(), ny)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ expr, want string }{
		{"", "empty expression"},
		{"   \t ", "empty expression"},
		{"* * * *", `expected 5 or 6 fields, got 4 in "* * * *"`},
		{"* * * * * * *", `expected 5 or 6 fields, got 7 in "* * * * * * *"`},
		{"x * * * *", `minute: "x" is not a number`},
		{"60 * * * *", "minute: 60 out of range 0-59"},
		{"* 24 * * *", "hour: 24 out of range 0-23"},
		{"* * 0 * *", "day-of-month: 0 out of range 1-31"},
		{"* * 32 * *", "day-of-month: 32 out of range 1-31"},
		{"* * * 0 *", "month: 0 out of range 1-12"},
		{"* * * 13 *", "month: 13 out of range 1-12"},
		{"* * * * 8", "day-of-week: 8 out of range 0-7"},
		{"60 * * * * *", "second: 60 out of range 0-59"},
		{"* */0 * * *", "hour: step 0 must be >= 1"},
		{"* 1-5/0 * * *", "hour: step 0 must be >= 1"},
		{"*/x * * * *", `minute: step "x" is not a number`},
		{"*/-1 * * * *", `minute: step "-1" is not a number`},
		{"*/ * * * *", `minute: step "" is not a number`},
		{"* 5-3 * * *", "hour: range 5-3 has start after end"},
		{"* * * * FRI-MON", "day-of-week: range FRI-MON has start after end"},
		{"-1 * * * *", `minute: "-1" is not a valid range`},
		{"1- * * * *", `minute: "1-" is not a valid range`},
		{"1-2-3 * * * *", `minute: "2-3" is not a number`},
		{"1,,2 * * * *", `minute: empty list item in "1,,2"`},
		{"1, * * * *", `minute: empty list item in "1,"`},
		{"/5 * * * *", `minute: "" is not a number`},
		{"? * * * *", `minute: "?" is only allowed in day-of-month and day-of-week`},
		{"* * * FOO *", `month: "FOO" is not a number or name`},
		{"* * * * FOO", `day-of-week: "FOO" is not a number or name`},
		{"* * * * MONDAY", `day-of-week: "MONDAY" is not a number or name`},
		{"MON * * * *", `minute: "MON" is not a number`},
		{"* * * JAN-13 *", "month: 13 out of range 1-12"},
		{"99999999999999999999 * * * *", "minute: 99999999999999999999 out of range 0-59"},
		{"@every 500ms", "@every: 500ms must be a whole number of seconds >= 1s"},
		{"@every 1.5s", "@every: 1.5s must be a whole number of seconds >= 1s"},
		{"@every 0s", "@every: 0s must be a whole number of seconds >= 1s"},
		{"@every -5s", "@every: -5s must be a whole number of seconds >= 1s"},
		{"@every 50000h", "@every: 50000h must be at most 43800h0m0s (5 years)"},
		{"@every", "@every: missing duration"},
		{"@every abc", `@every: "abc" is not a duration`},
		{"@every 1h 2h", `@every: unexpected "2h" after duration`},
		{"@daily 0", `@daily: unexpected "0" after descriptor`},
		{"@reboot", `unknown descriptor "@reboot"`},
		{"@", `unknown descriptor "@"`},
	}
	for _, tc := range tests {
		t.Run(tc.expr, func(t *testing.T) {
			s, err := Parse(tc.expr, nil)
			if err == nil {
				t.Fatalf("Parse(%q) = %v, want error %q", tc.expr, s, tc.want)
			}
			if err.Error() != tc.want {
				t.Errorf("Parse(%q) error = %q, want %q", tc.expr, err.Error(), tc.want)
			}
		})
	}
}

func mustLoad(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatalf("load %s: %v", name, err)
	}
	return loc
}
