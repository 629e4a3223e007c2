package web

import (
	"fmt"
	"html"
	"html/template"
	"strings"
	"time"

	"github.com/atf/scheduler/internal/store"
)

// timelineRows is the most schedules the next-24-hours timeline shows.
const timelineRows = 15

// timeline draws the next 24 hours as SVG: one row per schedule (the
// earliest due first), a dot per fire.
func timeline(now time.Time, list []store.Schedule, loc *time.Location) template.HTML {
	if len(list) == 0 {
		return ""
	}
	rows := list[:min(len(list), timelineRows)]
	const left, right, top, rowH = 170.0, 790.0, 22.0, 20.0
	width := right - left
	height := top + rowH*float64(len(rows)) + 6
	end := now.Add(24 * time.Hour)
	x := func(t time.Time) float64 { return left + width*float64(t.Sub(now))/float64(24*time.Hour) }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="timeline" viewBox="0 0 800 %.0f" role="img" aria-label="Fires in the next 24 hours">`, height)
	for h := 0; h <= 24; h += 3 {
		t := now.Add(time.Duration(h) * time.Hour)
		fmt.Fprintf(&b, `<line class="grid" x1="%.1f" y1="%.0f" x2="%.1f" y2="%.0f"/>`, x(t), top-4, x(t), height)
		anchor := "middle"
		if h == 24 {
			anchor = "end"
		}
		fmt.Fprintf(&b, `<text class="axis" x="%.1f" y="12" text-anchor="%s">%s</text>`, x(t), anchor, t.UTC().Format("15:04"))
	}
	for i, sc := range rows {
		y := top + rowH*float64(i) + rowH/2
		fmt.Fprintf(&b, `<a href="/schedules/%d"><text class="label" x="4" y="%.1f">%s</text></a>`, sc.ID, y+4, html.EscapeString(truncate(24, sc.Name)))
		fmt.Fprintf(&b, `<line class="row" x1="%.0f" y1="%.1f" x2="%.0f" y2="%.1f"/>`, left, y, right, y)
		fires := nextFires(&sc, loc, now, end, 96)
		if sc.NextRunAt != nil && sc.NextRunAt.After(now) && (len(fires) == 0 || sc.NextRunAt.Before(fires[0])) {
			fires = append([]time.Time{*sc.NextRunAt}, fires...)
		}
		for _, f := range fires {
			fmt.Fprintf(&b, `<circle class="fire" cx="%.1f" cy="%.1f" r="4"><title>%s — %s</title></circle>`,
				x(f), y, html.EscapeString(sc.Name), f.UTC().Format("2006-01-02 15:04:05Z"))
		}
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) //nolint:gosec // every text is escaped above
}
