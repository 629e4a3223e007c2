// Package redact hides secrets in what the scheduler shows: schedules'
// task_params (API responses, runs' job_snapshot, status, the CLI) and
// error texts that may quote them. It decides by key names and by the shape
// of values, never changes stored data, and restores secrets that a client
// sends back in their redacted form (Restore).
//
// Rules (keys compared case-insensitively with "_", "-", "." and spaces
// removed, at any depth):
//
//   - A key containing token, secret, password, passwd, passphrase, apikey,
//     privatekey, accesskey, credential, authorization, cookie or
//     webhookurl, a key equal to pwd, auth, dsn, databaseurl or
//     connectionstring, and a key starting with smtp: every string or
//     number under it (at any depth) is replaced. A URL keeps its scheme
//     and host: "https://hooks.example.com/…redacted…"; anything else
//     becomes Marker. true/false, null and "" are kept (they carry no
//     secret and show whether a value is set).
//   - A key containing webhook (webhook, webhooks) holding strings: those
//     strings, as above.
//   - url, uri, endpoint, href or hookurl inside an object under a key
//     containing notify, notification or webhook: as above.
//   - Any string holding a URL with user information
//     ("https://user:pass@host/…"): a string that is just the URL becomes
//     "https://host/…redacted…"; inside a longer text the user information
//     is replaced ("--db=postgres://…redacted…@db/prod").
package redact

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
)

// Marker replaces a secret. A client that sends a value holding it back on
// an update keeps the stored secret of that field (Restore).
const Marker = "…redacted…"

// normKey lower-cases a key and removes separators.
func normKey(k string) string {
	k = strings.ToLower(k)
	return strings.Map(func(r rune) rune {
		switch r {
		case '_', '-', '.', ' ':
			return -1
		}
		return r
	}, k)
}

var secretParts = []string{"token", "secret", "password", "passwd", "passphrase", "apikey", "privatekey",
	"accesskey", "credential", "authorization", "cookie", "webhookurl"}

var secretExact = map[string]bool{"pwd": true, "auth": true, "dsn": true, "databaseurl": true, "connectionstring": true}

// IsSecretKey reports whether every value under key k is a secret.
func IsSecretKey(k string) bool {
	n := normKey(k)
	if secretExact[n] || strings.HasPrefix(n, "smtp") {
		return true
	}
	for _, p := range secretParts {
		if strings.Contains(n, p) {
			return true
		}
	}
	return false
}

// isWebhookKey: strings directly under it are webhook addresses.
func isWebhookKey(n string) bool { return strings.Contains(n, "webhook") }

// isNotifyContext: url-like keys inside it are secret.
func isNotifyContext(n string) bool {
	return strings.Contains(n, "notify") || strings.Contains(n, "notification") || strings.Contains(n, "webhook")
}

var urlKeys = map[string]bool{"url": true, "uri": true, "endpoint": true, "href": true, "hookurl": true}

// Secret returns the redacted form of a secret string: a URL with a host
// keeps its scheme and host, anything else is Marker. "" stays "".
func Secret(s string) string {
	if s == "" {
		return ""
	}
	if u, err := url.Parse(strings.TrimSpace(s)); err == nil && u.Scheme != "" && u.Host != "" {
		return u.Scheme + "://" + u.Host + "/" + Marker
	}
	return Marker
}

// userinfoRE finds "scheme://userinfo@" inside a text.
var userinfoRE = regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.\-]*://)([^\s/@"'<>]+)@`)

// urlRE finds URLs inside a text.
var urlRE = regexp.MustCompile(`[A-Za-z][A-Za-z0-9+.\-]*://[^\s"'<>]+`)

// shape redacts a string that is not under a secret key: URLs with user
// information. ok reports whether it changed.
func shape(s string) (string, bool) {
	if !strings.Contains(s, "@") || !strings.Contains(s, "://") {
		return s, false
	}
	if u, err := url.Parse(s); err == nil && u.Scheme != "" && u.Host != "" && u.User != nil {
		return u.Scheme + "://" + u.Host + "/" + Marker, true
	}
	out := userinfoRE.ReplaceAllString(s, "${1}"+Marker+"@")
	return out, out != s
}

// Text redacts free text that may quote secrets (errors, messages): every
// URL with user information, a path beyond "/", a query or a fragment
// becomes "scheme://host/…redacted…" (a webhook's path and query carry
// its secret; the host says which service it was).
func Text(s string) string {
	if !strings.Contains(s, "://") {
		return s
	}
	return urlRE.ReplaceAllStringFunc(s, func(m string) string {
		trail := ""
		for strings.HasSuffix(m, ")") || strings.HasSuffix(m, ",") || strings.HasSuffix(m, ".") || strings.HasSuffix(m, ";") || strings.HasSuffix(m, ":") {
			trail = m[len(m)-1:] + trail
			m = m[:len(m)-1]
		}
		u, err := url.Parse(m)
		if err != nil {
			if i := strings.Index(m, "://"); i >= 0 {
				return m[:i+3] + Marker + trail
			}
			return Marker + trail
		}
		if u.Host == "" || (u.User == nil && (u.Path == "" || u.Path == "/") && u.RawQuery == "" && u.Fragment == "") {
			return m + trail
		}
		return u.Scheme + "://" + u.Host + "/" + Marker + trail
	})
}

// member is one key of an object, in document order.
type member struct {
	key string
	val any
}

// object is a JSON object that keeps its keys' order.
type object []member

// parse decodes JSON keeping object key order and numbers as written.
func parse(raw []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	v, err := parseValue(dec)
	if err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("unexpected data after the JSON value")
	}
	return v, nil
}

func parseValue(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			obj := object{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				k, _ := kt.(string)
				v, err := parseValue(dec)
				if err != nil {
					return nil, err
				}
				obj = append(obj, member{k, v})
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			return obj, nil
		case '[':
			arr := []any{}
			for dec.More() {
				v, err := parseValue(dec)
				if err != nil {
					return nil, err
				}
				arr = append(arr, v)
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			return arr, nil
		}
		return nil, fmt.Errorf("unexpected %v", t)
	default:
		return tok, nil
	}
}

// encode writes v as compact JSON.
func encode(buf *bytes.Buffer, v any) {
	switch x := v.(type) {
	case object:
		buf.WriteByte('{')
		for i, m := range x {
			if i > 0 {
				buf.WriteByte(',')
			}
			k, _ := json.Marshal(m.key)
			buf.Write(k)
			buf.WriteByte(':')
			encode(buf, m.val)
		}
		buf.WriteByte('}')
	case []any:
		buf.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				buf.WriteByte(',')
			}
			encode(buf, e)
		}
		buf.WriteByte(']')
	case json.Number:
		buf.WriteString(x.String())
	default:
		b, _ := json.Marshal(x)
		buf.Write(b)
	}
}

// scope says why the values under a key are secret.
type scope struct {
	secret  bool // under a secret key: every string and number
	webhook bool // directly under a webhook key: strings
	notify  bool // inside a notify/webhook object: url-like keys
}

// walk returns v redacted and whether anything changed.
func walk(v any, c scope) (any, bool) {
	switch x := v.(type) {
	case object:
		out := make(object, len(x))
		changed := false
		for i, m := range x {
			n := normKey(m.key)
			cc := scope{secret: c.secret || IsSecretKey(m.key), notify: c.notify || isNotifyContext(n)}
			cc.webhook = isWebhookKey(n) || (c.notify && urlKeys[n])
			nv, ch := walk(m.val, cc)
			out[i] = member{m.key, nv}
			changed = changed || ch
		}
		return out, changed
	case []any:
		out := make([]any, len(x))
		changed := false
		for i, e := range x {
			nv, ch := walk(e, c) // a list keeps its key's context
			out[i] = nv
			changed = changed || ch
		}
		return out, changed
	case string:
		if (c.secret || c.webhook) && x != "" {
			return Secret(x), true
		}
		return shape(x)
	case json.Number:
		if c.secret {
			return Marker, true
		}
	}
	return v, false
}

// JSON returns raw with its secrets replaced. It returns raw itself when
// nothing is secret (so that the stored text is shown as stored), and
// "…redacted…" as a JSON string when raw is not valid JSON.
func JSON(raw json.RawMessage) json.RawMessage {
	if len(bytes.TrimSpace(raw)) == 0 {
		return raw
	}
	v, err := parse(raw)
	if err != nil {
		b, _ := json.Marshal(Marker)
		return b
	}
	nv, changed := walk(v, scope{})
	if !changed {
		return raw
	}
	var buf bytes.Buffer
	encode(&buf, nv)
	return buf.Bytes()
}

// step is one element of a JSON path: an object key or an array index.
type step struct {
	key   string
	index int
	isKey bool
}

func pathString(root string, p []step) string {
	var b strings.Builder
	b.WriteString(root)
	for _, s := range p {
		if s.isKey {
			b.WriteString("." + s.key)
		} else {
			b.WriteString("[" + strconv.Itoa(s.index) + "]")
		}
	}
	return b.String()
}

// at returns the value at path p in v.
func at(v any, p []step) (any, bool) {
	for _, s := range p {
		switch x := v.(type) {
		case object:
			if !s.isKey {
				return nil, false
			}
			found := false
			for _, m := range x {
				if m.key == s.key {
					v, found = m.val, true
					break
				}
			}
			if !found {
				return nil, false
			}
		case []any:
			if s.isKey || s.index >= len(x) {
				return nil, false
			}
			v = x[s.index]
		default:
			return nil, false
		}
	}
	return v, true
}

// MarkerError is returned by Restore and Check for a value holding Marker
// that is not the redacted form of the stored value at its path.
type MarkerError struct {
	// Path is the field, e.g. task_params.notify.webhook_url.
	Path string
}

// Error names the field and says what to send instead.
func (e *MarkerError) Error() string {
	return fmt.Sprintf("%s: holds the redaction marker %q but is not the redacted form of the stored value; send the secret itself or the value exactly as it was shown", e.Path, Marker)
}

// Restore returns incoming with every string holding Marker replaced by the
// stored value at the same JSON path, provided that string is exactly the
// redacted form of the stored value (a client sent back what it read); the
// stored secret is kept. Values without the marker replace the stored ones.
// root names the document in errors (task_params). incoming is returned
// unchanged when it holds no marker; a marker that does not match the
// stored value is a *MarkerError.
func Restore(root string, incoming, stored json.RawMessage) (json.RawMessage, error) {
	// Always decoded: the marker may be written with \u escapes.
	in, err := parse(incoming)
	if err != nil {
		return incoming, nil // not JSON: validation reports it
	}
	var st, red any
	if len(bytes.TrimSpace(stored)) > 0 {
		if st, err = parse(stored); err == nil {
			red, _ = walk(st, scope{})
		}
	}
	changed := false
	var rerr error
	var fix func(v any, p []step) any
	fix = func(v any, p []step) any {
		if rerr != nil {
			return v
		}
		switch x := v.(type) {
		case object:
			out := make(object, len(x))
			for i, m := range x {
				out[i] = member{m.key, fix(m.val, append(p[:len(p):len(p)], step{key: m.key, isKey: true}))}
			}
			return out
		case []any:
			out := make([]any, len(x))
			for i, e := range x {
				out[i] = fix(e, append(p[:len(p):len(p)], step{index: i}))
			}
			return out
		case string:
			if !strings.Contains(x, Marker) {
				return x
			}
			rv, ok1 := at(red, p)
			sv, ok2 := at(st, p)
			if rs, isStr := rv.(string); ok1 && ok2 && isStr && rs == x {
				changed = true
				return sv
			}
			rerr = &MarkerError{Path: pathString(root, p)}
		}
		return v
	}
	out := fix(in, nil)
	if rerr != nil {
		return nil, rerr
	}
	if !changed {
		return incoming, nil
	}
	var buf bytes.Buffer
	encode(&buf, out)
	return buf.Bytes(), nil
}

// Check returns a *MarkerError for the first string of raw holding Marker
// (a new schedule cannot keep a secret it never had), or nil.
func Check(root string, raw json.RawMessage) error {
	_, err := Restore(root, raw, nil)
	return err
}
