package script

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// ResultPrefix starts the stdout line by which a script reports its result.
const ResultPrefix = "__SCHEDULER_RESULT__:"

// Sizes of the kept output, in characters (Unicode code points).
const (
	StdoutTailChars = 500
	StderrTailChars = 2000
)

// MaxResultLineBytes bounds the result line; a longer one fails the run
// with a *ResultTooLongError instead of being buffered without limit.
const MaxResultLineBytes = 1 << 20

// ResultTooLongError fails a run whose script printed a result line longer
// than MaxResultLineBytes: the result it meant to report cannot be kept, so
// the run must not pass as completed without it.
type ResultTooLongError struct {
	// Bytes is the length of the line after the prefix, without its newline.
	Bytes int64
}

// Error names the line's size and the limit.
func (e *ResultTooLongError) Error() string {
	return fmt.Sprintf("%s line of %d bytes exceeds the 1 MiB limit (%d bytes)",
		strings.TrimSuffix(ResultPrefix, ":"), e.Bytes, MaxResultLineBytes)
}

// tail keeps the last bytes written to it in a fixed ring buffer.
type tail struct {
	buf  []byte
	next int  // where the next byte goes
	full bool // buf has wrapped at least once
}

// newTail returns a tail that can return the last chars characters: it
// keeps 4 bytes per character, the longest UTF-8 encoding.
func newTail(chars int) *tail { return &tail{buf: make([]byte, 4*chars)} }

// Write records p; it never fails.
func (t *tail) Write(p []byte) (int, error) {
	n := len(p)
	if n >= len(t.buf) {
		copy(t.buf, p[n-len(t.buf):])
		t.next, t.full = 0, true
		return n, nil
	}
	c := copy(t.buf[t.next:], p)
	if c < n {
		copy(t.buf, p[c:])
		t.full = true
	}
	t.next = (t.next + n) % len(t.buf)
	if t.next == 0 && n > 0 {
		t.full = true
	}
	return n, nil
}

// String returns the last chars characters written. A character cut in
// half by the ring buffer is dropped; invalid UTF-8 bytes count as one
// character each.
func (t *tail) String(chars int) string {
	var b []byte
	if t.full {
		b = append(append(b, t.buf[t.next:]...), t.buf[:t.next]...)
		// The oldest bytes may be the end of a character whose start was
		// overwritten: skip continuation bytes.
		for i := 0; i < utf8.UTFMax-1 && len(b) > 0 && !utf8.RuneStart(b[0]); i++ {
			b = b[1:]
		}
	} else {
		b = t.buf[:t.next]
	}
	n := utf8.RuneCount(b)
	for ; n > chars; n-- {
		_, size := utf8.DecodeRune(b)
		b = b[size:]
	}
	return string(b)
}

// rawChars is how many characters of a malformed result line are kept in
// script_result.raw (as the old service did).
const rawChars = 200

// resultScanner watches a stream line by line for result lines. The first
// one whose JSON object parses wins and later ones are not even buffered;
// until then the last malformed one is remembered. It holds at most one
// line of MaxResultLineBytes in memory.
type resultScanner struct {
	line     []byte              // current line, up to MaxResultLineBytes+len(ResultPrefix) bytes
	overflow bool                // the current line is longer than the cap
	lineLen  int64               // bytes of the current line seen so far, kept or not
	tooLong  *ResultTooLongError // the first result line over the cap
	good     map[string]any      // the first result line that parsed
	bad      error               // why the last malformed result line did not parse
	badRaw   string              // its first rawChars characters
}

// Write feeds stream bytes; it never fails.
func (s *resultScanner) Write(p []byte) (int, error) {
	n := len(p)
	if s.good != nil {
		return n, nil // the first good line won: nothing more to look at
	}
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		chunk := p
		if i >= 0 {
			chunk = p[:i]
		}
		s.add(chunk)
		if i < 0 {
			break
		}
		s.endLine()
		p = p[i+1:]
	}
	return n, nil
}

// add appends part of a line. Once a line is known not to be a result line
// its bytes are dropped.
func (s *resultScanner) add(b []byte) {
	s.lineLen += int64(len(b))
	if s.overflow || s.good != nil {
		return
	}
	// A line that does not start with the prefix is not kept past it.
	if len(s.line) >= len(ResultPrefix) && !bytes.HasPrefix(s.line, []byte(ResultPrefix)) {
		return
	}
	room := MaxResultLineBytes + len(ResultPrefix) - len(s.line)
	if len(b) > room {
		s.line = append(s.line, b[:room]...)
		s.overflow = true
		return
	}
	s.line = append(s.line, b...)
}

// endLine finishes the current line: a result line is decoded at once.
func (s *resultScanner) endLine() {
	if s.good == nil && bytes.HasPrefix(s.line, []byte(ResultPrefix)) {
		payload := bytes.TrimSpace(bytes.TrimSuffix(s.line[len(ResultPrefix):], []byte("\r")))
		var m map[string]any
		var err error
		if s.overflow {
			n := s.lineLen - int64(len(ResultPrefix))
			if bytes.HasSuffix(s.line, []byte("\r")) {
				n-- // CRLF line end
			}
			err = &ResultTooLongError{Bytes: n}
			if s.tooLong == nil {
				s.tooLong = err.(*ResultTooLongError)
			}
		} else {
			m, err = decodeResult(payload)
		}
		if err == nil {
			s.good, s.bad, s.badRaw = m, nil, ""
		} else {
			s.bad, s.badRaw = err, firstChars(payload, rawChars)
		}
	}
	s.line = s.line[:0]
	s.overflow = false
	s.lineLen = 0
}

// finish treats a final line without newline as complete.
func (s *resultScanner) finish() {
	if len(s.line) > 0 || s.overflow {
		s.endLine()
	}
}

// result returns the script_result: the first result line that parsed;
// else {"parse_error", "raw"} of the last malformed one (and its error);
// else an empty object. A result line over MaxResultLineBytes before the
// first good one makes the error a *ResultTooLongError, which fails the run.
func (s *resultScanner) result() (map[string]any, error) {
	switch {
	case s.tooLong != nil:
		raw := s.badRaw
		if s.bad != s.tooLong {
			raw = ""
		}
		return map[string]any{"parse_error": s.tooLong.Error(), "raw": raw}, s.tooLong
	case s.good != nil:
		return s.good, nil
	case s.bad != nil:
		return map[string]any{"parse_error": s.bad.Error(), "raw": s.badRaw}, s.bad
	default:
		return map[string]any{}, nil
	}
}

// firstChars returns the first n characters of b (invalid UTF-8 bytes
// replaced).
func firstChars(b []byte, n int) string {
	r := []rune(strings.ToValidUTF8(string(b), "\uFFFD"))
	if len(r) > n {
		r = r[:n]
	}
	return string(r)
}

// decodeResult parses the JSON object of a result line. Numbers stay
// json.Number so that large integers survive being stored again.
func decodeResult(payload []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("result line has no JSON object")
		}
		return nil, fmt.Errorf("result line is not valid JSON: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("result line has data after the JSON object")
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("result line holds a JSON %s, want an object", jsonKind(v))
	}
	return m, nil
}

// jsonKind names the JSON type of a decoded value.
func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case []any:
		return "array"
	case string:
		return "string"
	case bool:
		return "bool"
	default:
		return "number"
	}
}
