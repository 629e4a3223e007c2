package marketdata

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// CSV serves bars from a directory of files named SYMBOL_TIMEFRAME.csv
// (e.g. BTCUSDT_1h.csv, ^VIX_1d.csv) in the format ReadCSV reads. It is meant
// for offline use, tests and the demo. Files are read on each call, so they
// may be replaced while the service runs.
type CSV struct {
	// Dir is the directory holding the files (DATA_CSV_DIR).
	Dir string
}

// NewCSV returns a CSV provider reading from dir.
func NewCSV(dir string) *CSV { return &CSV{Dir: dir} }

// Name returns "csv".
func (c *CSV) Name() string { return "csv" }

// Path returns the file that holds symbol's bars for tf:
// Dir/SYMBOL_TIMEFRAME.csv. A symbol that is not a market symbol
// (CheckSymbol: "../../etc/passwd", "a/b", ".x") or a file name that would
// leave Dir after cleaning is an error, so a caller can never be led
// outside DATA_CSV_DIR.
func (c *CSV) Path(symbol string, tf Timeframe) (string, error) {
	return csvFile(c.Dir, symbol, tf)
}

// Bars reads SYMBOL_TIMEFRAME.csv and returns the bars opening in [from, to].
// A missing file is ErrSymbolNotFound.
func (c *CSV) Bars(ctx context.Context, symbol string, tf Timeframe, from, to time.Time) ([]Bar, error) {
	if _, ok := timeframes[tf]; !ok {
		return nil, fmt.Errorf("csv %s %s: %w", symbol, tf, ErrUnsupportedTimeframe)
	}
	path, err := c.Path(symbol, tf)
	if err != nil {
		return nil, fmt.Errorf("csv %s: %w", tf, err)
	}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("csv %s %s: %w: no file %s", symbol, tf, ErrSymbolNotFound, path)
	}
	if err != nil {
		return nil, fmt.Errorf("csv %s %s: %w", symbol, tf, err)
	}
	defer f.Close()
	all, err := ReadCSV(f)
	if err != nil {
		return nil, fmt.Errorf("csv %s: %w", path, err)
	}
	out := make([]Bar, 0, len(all))
	for _, b := range all {
		if !b.Time.Before(from) && !b.Time.After(to) {
			out = append(out, b)
		}
	}
	return out, ctx.Err()
}

// ReadCSV reads bars from CSV text with the columns time, open, high, low,
// close, volume. A header row is optional; when present, columns are found
// by name (case-insensitive; "date" or "timestamp" also name the time
// column, other columns are ignored), otherwise they are taken in that
// order. Times are RFC 3339 (2024-01-02T15:04:05Z), a date (2024-01-02,
// meaning UTC midnight) or Unix seconds (1704207845). Bars are returned in
// file order and are not validated (see Validate). Errors name the line and
// the column.
func ReadCSV(r io.Reader) ([]Bar, error) {
	cr := csv.NewReader(SkipBOM(r))
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	cr.Comment = '#'
	idx := map[string]int{"time": 0, "open": 1, "high": 2, "low": 3, "close": 4, "volume": 5}
	cols := []string{"time", "open", "high", "low", "close", "volume"}
	var bars []Bar
	header := false
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return bars, nil
		}
		if err != nil {
			return nil, fmt.Errorf("csv: %w", err)
		}
		line, _ := cr.FieldPos(0)
		if !header && len(bars) == 0 && isHeader(rec) {
			header = true
			idx = map[string]int{}
			for i, h := range rec {
				h = strings.ToLower(strings.TrimSpace(h))
				if h == "date" || h == "timestamp" || h == "datetime" {
					h = "time"
				}
				if _, dup := idx[h]; !dup {
					idx[h] = i
				}
			}
			for _, c := range cols {
				if _, ok := idx[c]; !ok {
					return nil, fmt.Errorf("csv line %d: header has no %q column (want time,open,high,low,close,volume)", line, c)
				}
			}
			continue
		}
		var b Bar
		for _, c := range cols {
			i := idx[c]
			if i >= len(rec) {
				return nil, fmt.Errorf("csv line %d: no %s column (record has %d fields)", line, c, len(rec))
			}
			v := strings.TrimSpace(rec[i])
			if c == "time" {
				if b.Time, err = parseCSVTime(v); err != nil {
					return nil, fmt.Errorf("csv line %d: time %s: %v", line, QuoteField(v), err)
				}
				continue
			}
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return nil, fmt.Errorf("csv line %d: %s %s is not a number", line, c, QuoteField(v))
			}
			switch c {
			case "open":
				b.Open = f
			case "high":
				b.High = f
			case "low":
				b.Low = f
			case "close":
				b.Close = f
			case "volume":
				b.Volume = f
			}
		}
		bars = append(bars, b)
	}
}

// utf8BOM is the UTF-8 byte order mark some editors (Excel) write first.
var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// SkipBOM returns a reader of r without a leading UTF-8 byte order mark, so
// that a file saved by Excel ("\ufefftime,open,…" or "\ufeff\"time\",…")
// reads like any other.
func SkipBOM(r io.Reader) io.Reader {
	br := bufio.NewReader(r)
	if b, err := br.Peek(len(utf8BOM)); err == nil && bytes.Equal(b, utf8BOM) {
		_, _ = br.Discard(len(utf8BOM))
	}
	return br
}

// MaxQuotedField is how many bytes of a field QuoteField shows.
const MaxQuotedField = 64

// QuoteField renders a field of untrusted input for an error message: Go
// quoted (control characters, escape sequences and invalid UTF-8 as \x..
// escapes, never raw bytes) and cut to MaxQuotedField bytes, with the
// full length added when cut: "\x00\x01…"… (1048576 bytes).
func QuoteField(s string) string {
	if len(s) <= MaxQuotedField {
		return strconv.Quote(s)
	}
	return fmt.Sprintf("%s… (%d bytes)", strconv.Quote(s[:MaxQuotedField]), len(s))
}

// isHeader reports whether a record is a header: its first field starts
// with a letter (times start with a digit).
func isHeader(rec []string) bool {
	if len(rec) == 0 {
		return false
	}
	f := strings.TrimSpace(rec[0])
	return f != "" && unicode.IsLetter([]rune(f)[0])
}

func parseCSVTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, errors.New("empty")
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Unix(n, 0).UTC(), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Time{}, errors.New("not RFC 3339, a date (2006-01-02) or Unix seconds")
}

// WriteCSV writes bars in the format ReadCSV reads, with a header row and
// RFC 3339 times.
func WriteCSV(w io.Writer, bars []Bar) error {
	cw := csv.NewWriter(w)
	if err := cw.Write([]string{"time", "open", "high", "low", "close", "volume"}); err != nil {
		return err
	}
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	for _, b := range bars {
		if err := cw.Write([]string{b.Time.UTC().Format(time.RFC3339), f(b.Open), f(b.High), f(b.Low), f(b.Close), f(b.Volume)}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
