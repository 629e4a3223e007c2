package notify

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// ErrorKind says what the dispatcher should do after a failed Send.
type ErrorKind int

// Error kinds. Any error not built with Permanent or RetryAfter is Transient.
const (
	Transient   ErrorKind = iota // retry with exponential backoff
	Permanent                    // never retry: the row goes dead with the reason
	RateLimited                  // retry after the time the receiver asked for
)

// String names the kind.
func (k ErrorKind) String() string {
	switch k {
	case Transient:
		return "transient"
	case Permanent:
		return "permanent"
	case RateLimited:
		return "rate-limited"
	}
	return fmt.Sprintf("ErrorKind(%d)", int(k))
}

// DeliveryError is a classified Send error.
type DeliveryError struct {
	Kind       ErrorKind
	RetryAfter time.Duration // for RateLimited (and optionally Transient)
	Err        error
}

// Error returns the underlying message.
func (e *DeliveryError) Error() string {
	if e.Err == nil {
		return e.Kind.String() + " delivery error"
	}
	return e.Err.Error()
}

// Unwrap returns the underlying error.
func (e *DeliveryError) Unwrap() error { return e.Err }

// PermanentError marks err as permanent: retrying cannot help (HTTP 400,
// unknown chat, blocked bot, malformed recipient).
func PermanentError(err error) error {
	return &DeliveryError{Kind: Permanent, Err: err}
}

// RetryAfterError marks err as a rate limit: retry no earlier than d from now.
func RetryAfterError(d time.Duration, err error) error {
	return &DeliveryError{Kind: RateLimited, RetryAfter: d, Err: err}
}

// TransientError marks err as transient; a positive hint (for example from a
// 503 Retry-After header) sets the earliest retry instead of the backoff.
func TransientError(hint time.Duration, err error) error {
	return &DeliveryError{Kind: Transient, RetryAfter: hint, Err: err}
}

// Classify returns the kind of a Send error and the receiver's retry hint
// (0 when it gave none).
func Classify(err error) (ErrorKind, time.Duration) {
	var de *DeliveryError
	if errors.As(err, &de) {
		return de.Kind, de.RetryAfter
	}
	return Transient, 0
}

// parseRetryAfter reads an HTTP Retry-After header (seconds or HTTP date).
func parseRetryAfter(h string, now time.Time) time.Duration {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0
	}
	if secs, err := strconv.ParseFloat(h, 64); err == nil && secs >= 0 {
		return time.Duration(secs * float64(time.Second))
	}
	if t, err := http.ParseTime(h); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// classifyHTTP turns a non-2xx status into a classified error: 429 is rate
// limited, 408 and 5xx transient, other 4xx permanent.
func classifyHTTP(status int, retryAfter time.Duration, err error) error {
	switch {
	case status == http.StatusTooManyRequests:
		if retryAfter <= 0 {
			return TransientError(0, err)
		}
		return RetryAfterError(retryAfter, err)
	case status == http.StatusRequestTimeout || status >= 500:
		return TransientError(retryAfter, err)
	case status >= 400:
		return PermanentError(err)
	}
	return TransientError(0, err)
}

// snippet returns at most n bytes of a response body for error messages.
func snippet(b []byte, n int) string {
	s := strings.TrimSpace(string(b))
	if len(s) > n {
		s = s[:n] + "…"
	}
	return s
}
