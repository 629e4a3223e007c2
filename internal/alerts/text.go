package alerts

import (
	"sort"
	"strconv"
	"strings"
	"time"
)

// format fills the phone-readable Title and Body of ev.
func (a *Alert) format(ev *Event) {
	head := a.Ticker + " " + string(a.Timeframe)
	what := a.Name
	if what == "" && a.rule != nil {
		what = a.rule.String()
	}
	switch ev.Kind {
	case EventTrigger:
		ev.Title = head + ": " + what
	case EventRearm:
		ev.Title = head + ": alert re-armed"
	case EventPaused:
		ev.Title = head + ": alert paused (too many triggers)"
	case EventInactive:
		ev.Title = head + ": alert inactive"
	case EventError:
		ev.Title = head + ": alert error"
	}
	var b strings.Builder
	if ev.Count > 1 && len(ev.Times) > 0 {
		b.WriteString("Fired " + strconv.Itoa(ev.Count) + " times since the last check, on bars ")
		b.WriteString(joinTimes(ev.Times))
		b.WriteString(". Latest: ")
	}
	b.WriteString(ev.Description)
	if !ev.BarTime.IsZero() {
		bar := ev.Bar
		b.WriteString("\nBar " + ev.BarTime.UTC().Format("2006-01-02 15:04 UTC"))
		if ev.Forming {
			b.WriteString(" (forming)")
		}
		b.WriteString(": O " + fmtNum(bar.Open) + " H " + fmtNum(bar.High) + " L " + fmtNum(bar.Low) +
			" C " + fmtNum(bar.Close) + " V " + fmtNum(bar.Volume))
	}
	if len(ev.Values) > 0 {
		b.WriteString("\nValues: " + formatValues(ev.Values))
	}
	b.WriteString("\nStatus: " + ev.Status)
	if ev.Rearm != "" {
		b.WriteString("; " + ev.Rearm)
	}
	ev.Body = b.String()
}

// formatValues renders values sorted by name: "rsi_14=28.70, value=30.00".
func formatValues(vals map[string]float64) string {
	keys := make([]string, 0, len(vals))
	for k := range vals {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + fmtNum(vals[k])
	}
	return strings.Join(parts, ", ")
}

func joinTimes(ts []time.Time) string {
	parts := make([]string, len(ts))
	for i, t := range ts {
		parts[i] = t.UTC().Format("2006-01-02 15:04")
	}
	return strings.Join(parts, ", ") + " UTC"
}
