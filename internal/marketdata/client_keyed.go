package marketdata

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/atf/scheduler/internal/redact"
)

// maxRateWait is the longest a request queues for its provider's rate
// limit; a longer queue fails over at once (result "throttled").
const maxRateWait = time.Minute

// Keys maps key variables (FMP_API_KEY, ...) to their values. It prints,
// logs and marshals with the values redacted.
type Keys map[string]string

// String lists the variables that are set, never their values.
func (k Keys) String() string {
	names := make([]string, 0, len(k))
	for n, v := range k {
		if v != "" {
			names = append(names, n+"="+redact.Marker)
		}
	}
	sort.Strings(names)
	return "{" + strings.Join(names, " ") + "}"
}

// GoString keeps %#v from showing the values.
func (k Keys) GoString() string { return "marketdata.Keys" + k.String() }

// LogValue makes slog print the redacted form.
func (k Keys) LogValue() slog.Value { return slog.StringValue(k.String()) }

// MarshalJSON writes the variables with redacted values.
func (k Keys) MarshalJSON() ([]byte, error) {
	out := make(map[string]string, len(k))
	for n, v := range k {
		if v != "" {
			out[n] = redact.Marker
		}
	}
	return json.Marshal(out)
}

// addKeyed registers the keyed providers: configured ones when their keys
// are set, placeholders failing with ErrNotConfigured otherwise.
func (c *Client) addKeyed() {
	for _, k := range keyedProviders {
		if missing := k.missing(c.opts.Keys); len(missing) > 0 {
			c.providers[k.name] = unconfigured{name: k.name, missing: missing}
			continue
		}
		base := k.baseURL
		if u := c.opts.baseURLs[k.name]; u != "" {
			base = strings.TrimRight(u, "/")
		}
		keys := make([]string, len(k.keyVars))
		for i, v := range k.keyVars {
			keys[i] = strings.TrimSpace(c.opts.Keys[v])
		}
		c.providers[k.name] = k.build(providerConfig{baseURL: base, keys: keys, http: c.opts.HTTPClient, now: c.opts.Now})
	}
}

// checkConfigured warns about unconfigured providers named in the default
// chain or a route (they are skipped with ErrNotConfigured) and refuses a
// chain in which no provider is configured.
func (c *Client) checkConfigured() error {
	warned := map[string]bool{}
	check := func(field string, chain []string) error {
		usable := 0
		var why []string
		for _, n := range chain {
			u, ok := c.providers[n].(unconfigured)
			if !ok {
				usable++
				continue
			}
			why = append(why, u.err().Error())
			if !warned[n] {
				warned[n] = true
				c.log.Warn("market data provider skipped: its API key is not set", "provider", n, "set", strings.Join(u.missing, ","), "listed_in", field)
			}
		}
		if usable == 0 && len(chain) > 0 {
			return fmt.Errorf("marketdata options: %s: no provider of %s can be used: %s", field, strings.Join(chain, ","), strings.Join(why, "; "))
		}
		return nil
	}
	if err := check("Providers", c.opts.Providers); err != nil {
		return err
	}
	for _, r := range c.opts.Routes {
		if err := check(fmt.Sprintf("Routes[%s]", r.Pattern), r.Providers); err != nil {
			return err
		}
	}
	return nil
}

// addLimiters builds a token bucket per rate-limited provider.
func (c *Client) addLimiters() error {
	for _, name := range rateLimitNames(c.opts.RateLimits) {
		l := c.opts.RateLimits[name]
		if _, ok := c.providers[name]; !ok {
			if slices.Contains(builtinProviders, name) {
				continue // csv without DATA_CSV_DIR
			}
			return fmt.Errorf("marketdata options: RateLimits: unknown provider %q (known: %s)", name, strings.Join(c.names, ", "))
		}
		if err := l.check(); err != nil {
			return fmt.Errorf("marketdata options: RateLimits[%s]: %w", name, err)
		}
		c.limiters[name] = newLimiter(l)
	}
	return nil
}

// cooling reports whether provider name is waiting out a rate limit's
// retry hint.
func (c *Client) cooling(name string) bool {
	c.mu.Lock()
	until, ok := c.cooldown[name]
	c.mu.Unlock()
	return ok && c.opts.Now().Before(until)
}

// ProviderStates lists every provider the Client knows, sorted by name:
// whether it is configured (its key variables are set), which variables
// it reads (never their values), its rate limit and its breaker state. The
// status page and "scheduler data fetch" show it.
func (c *Client) ProviderStates() []ProviderState {
	keyVars := map[string][]string{}
	for _, k := range keyedProviders {
		keyVars[k.name] = k.keyVars
	}
	breakers := c.Breakers()
	out := make([]ProviderState, 0, len(c.names))
	for _, n := range c.names {
		st := ProviderState{Name: n, Configured: true, KeyVariables: keyVars[n], Breaker: breakers[n]}
		if u, ok := c.providers[n].(unconfigured); ok {
			st.Configured, st.Missing = false, u.missing
		}
		if l, ok := c.opts.RateLimits[n]; ok {
			st.RateLimit = l.String()
		}
		out = append(out, st)
	}
	return out
}
