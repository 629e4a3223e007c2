package main

import (
	"fmt"
	"strings"

	"github.com/atf/scheduler/internal/marketdata"
)

// providerSummary is the one-line list of configured and unconfigured
// providers that "data fetch" prints.
func providerSummary(states []marketdata.ProviderState) string {
	var on, off []string
	for _, st := range states {
		if st.Configured {
			on = append(on, st.Name)
		} else {
			off = append(off, fmt.Sprintf("%s (set %s)", st.Name, strings.Join(st.Missing, " and ")))
		}
	}
	s := "configured providers: " + strings.Join(on, ", ")
	if len(off) > 0 {
		s += "; not configured: " + strings.Join(off, ", ")
	}
	return s
}
