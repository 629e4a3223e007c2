package marketdata

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/atf/scheduler/internal/redact"
)

// apiGet sends a GET for a keyed provider and returns the response (closed)
// and its body, with every secret it quotes redacted. Transport errors are
// returned with every secret and the URL's path and query redacted,
// because Go's errors quote the URL and some providers take the key in the
// query.
func apiGet(ctx context.Context, hc *http.Client, rawURL string, header http.Header, secrets []string) (*http.Response, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, nil, errors.New(redactSecrets("building request: "+err.Error(), secrets))
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	req.Header.Set("Accept", "application/json")
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		return nil, nil, errors.New(redactSecrets(err.Error(), secrets))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, nil, fmt.Errorf("reading body: %s", redactSecrets(err.Error(), secrets))
	}
	// Some answers quote the key ("We have detected your API key as
	// ..."); error messages are built from the body.
	for _, sec := range secrets {
		if len(sec) >= minEchoedSecret {
			body = bytes.ReplaceAll(body, []byte(sec), []byte(redact.Marker))
		}
	}
	return resp, body, nil
}

// minEchoedSecret is the shortest key searched for in answers (shorter
// strings could match ordinary data).
const minEchoedSecret = 6

// redactSecrets replaces each secret in s with redact.Marker and redacts
// URLs' paths and queries.
func redactSecrets(s string, secrets []string) string {
	for _, sec := range secrets {
		if sec != "" {
			s = strings.ReplaceAll(s, sec, redact.Marker)
		}
	}
	return redact.Text(s)
}

// Default waits when a rate-limited answer names none.
const (
	minuteRetry = time.Minute
)

// retryHint returns the wait a rate-limited answer asks for: the
// Retry-After header (seconds or a date), else an X-Ratelimit-Reset /
// X-RateLimit-Reset header (Unix seconds), else def.
func retryHint(h http.Header, now time.Time, def time.Duration) time.Duration {
	if v := strings.TrimSpace(h.Get("Retry-After")); v != "" {
		return retryAfter(v)
	}
	if v := strings.TrimSpace(h.Get("X-Ratelimit-Reset")); v != "" {
		if sec, err := strconv.ParseInt(v, 10, 64); err == nil {
			if d := time.Unix(sec, 0).Sub(now); d > 0 && d < 48*time.Hour {
				return d.Round(time.Second) + time.Second
			}
			return time.Second
		}
	}
	return def
}

// untilNext returns the time from now to the next boundary of unit (a
// minute, an hour or a UTC day), at least one second.
func untilNext(now time.Time, unit time.Duration) time.Duration {
	now = now.UTC()
	next := now.Truncate(unit).Add(unit)
	return max(next.Sub(now), time.Second)
}

// rateLimited builds the RateLimitError of a provider.
func rateLimited(provider string, status int, wait time.Duration, msg string) error {
	return &RateLimitError{Provider: provider, Status: status, RetryAfter: wait, Message: msg}
}

// httpStatusError maps the statuses every keyed provider shares: 401/403 →
// ErrUnauthorized, 404 → ErrSymbolNotFound, others → *HTTPError.
func httpStatusError(provider string, status int, msg string) error {
	herr := &HTTPError{Provider: provider, Status: status, Message: msg}
	switch status {
	case http.StatusUnauthorized, http.StatusForbidden, http.StatusPaymentRequired:
		return fmt.Errorf("%w: %w", ErrUnauthorized, herr)
	case http.StatusNotFound:
		return fmt.Errorf("%w: %w", ErrSymbolNotFound, herr)
	}
	return herr
}
