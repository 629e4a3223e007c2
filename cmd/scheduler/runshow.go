package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/atf/scheduler/internal/action"
)

// printRun prints one run as `scheduler runs show` does: every field a
// person needs to understand it, the error and the result in full.
func printRun(w io.Writer, d *action.RunDetail) error {
	r := d.Run
	fmt.Fprintf(w, "run %d: %s", r.ID, r.Status)
	if r.Kind != "" {
		fmt.Fprintf(w, " (%s)", r.Kind)
	}
	fmt.Fprintf(w, ", attempt %d of %d\n", r.Attempt, r.MaxAttempts)
	fmt.Fprintf(w, "schedule:      %s (%s, user %d)\n", r.JobID, r.JobType, r.UserID)
	fmt.Fprintf(w, "scheduled for: %s\n", r.ScheduledFor.UTC().Format(time.RFC3339Nano))
	if r.StartedAt != nil {
		fmt.Fprintf(w, "started:       %s", r.StartedAt.UTC().Format(time.RFC3339Nano))
		if d.LagSeconds != nil {
			fmt.Fprintf(w, " (lag %s)", secs(*d.LagSeconds))
		}
		fmt.Fprintln(w)
	}
	if r.FinishedAt != nil {
		fmt.Fprintf(w, "finished:      %s", r.FinishedAt.UTC().Format(time.RFC3339Nano))
		if d.DurationSeconds != nil {
			fmt.Fprintf(w, " (took %s)", secs(*d.DurationSeconds))
		}
		fmt.Fprintln(w)
	}
	if r.CoversFrom != nil && r.CoversTo != nil {
		fmt.Fprintf(w, "covers:        %s … %s\n", r.CoversFrom.UTC().Format(time.RFC3339), r.CoversTo.UTC().Format(time.RFC3339))
	}
	if r.LeaseOwner != "" {
		fmt.Fprintf(w, "owner:         %s\n", r.LeaseOwner)
	}
	if r.Error != "" {
		fmt.Fprintf(w, "error:\n%s\n", indent(r.Error))
	}
	if len(r.Result) > 0 {
		var buf bytes.Buffer
		if err := json.Indent(&buf, r.Result, "  ", "  "); err != nil {
			buf.Reset()
			buf.Write(r.Result)
		}
		fmt.Fprintf(w, "result:\n  %s\n", buf.String())
	}
	fmt.Fprintf(w, "retried attempts: %d\n", len(d.Attempts))
	for _, at := range d.Attempts {
		fmt.Fprintf(w, "  attempt %d on %s, finished %s:\n%s\n", at.Attempt, at.Owner,
			at.FinishedAt.UTC().Format(time.RFC3339), indent(indent(at.Error)))
	}
	return nil
}

// secs formats seconds as a rounded duration.
func secs(s float64) string {
	return time.Duration(s * float64(time.Second)).Round(time.Millisecond).String()
}

// indent prefixes every line of s with two spaces.
func indent(s string) string {
	var b bytes.Buffer
	for i, line := range bytes.Split([]byte(s), []byte("\n")) {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString("  ")
		b.Write(line)
	}
	return b.String()
}
