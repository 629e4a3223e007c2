package marketdata_test

import (
	"strings"
	"testing"
	"unicode"

	"github.com/atf/scheduler/internal/alerts"
	"github.com/atf/scheduler/internal/marketdata"
)

const bomCSV = "\xef\xbb\xbftime,open,high,low,close,volume\n2024-01-01,1,2,0.5,1.5,10\n2024-01-02,1.5,2,1,1.8,12\n"

// A UTF-8 byte order mark (Excel's "CSV UTF-8") is skipped, also before a
// quoted header field, by the provider's reader and by the replay reader of
// `alert test` / `screener test`.
func TestCSVWithBOMParses(t *testing.T) {
	for name, text := range map[string]string{
		"plain header":  bomCSV,
		"quoted header": "\xef\xbb\xbf\"time\",\"open\",\"high\",\"low\",\"close\",\"volume\"\n2024-01-01,1,2,0.5,1.5,10\n2024-01-02,1.5,2,1,1.8,12\n",
		"no header":     "\xef\xbb\xbf2024-01-01,1,2,0.5,1.5,10\n2024-01-02,1.5,2,1,1.8,12\n",
	} {
		bars, err := marketdata.ReadCSV(strings.NewReader(text))
		if err != nil || len(bars) != 2 || bars[1].Close != 1.8 {
			t.Errorf("ReadCSV %s: %d bars, %v", name, len(bars), err)
		}
		bars, err = alerts.ReadBarsCSV(strings.NewReader(text))
		if err != nil || len(bars) != 2 || bars[1].Close != 1.8 {
			t.Errorf("alerts.ReadBarsCSV %s: %d bars, %v", name, len(bars), err)
		}
	}
}

// A binary file's bytes never reach an error message raw: control bytes,
// terminal escapes and invalid UTF-8 are escaped, and a long field is cut.
func TestBinaryCSVErrorIsEscaped(t *testing.T) {
	long := strings.Repeat("\x00\xff", 100000)
	for name, text := range map[string]string{
		"binary first line": "\x00\x01\xff\xfe\x1b[31m,1,2\n",
		"binary time":       "time,open,high,low,close,volume\n\x00\x01\xff\x1b[31m,1,2,3,4,5\n",
		"binary number":     "time,open,high,low,close,volume\n2024-01-01,\x1b[2J\x07,2,3,4,5\n",
		"huge binary field": "time,open,high,low,close,volume\n" + long + ",1,2,3,4,5\n",
		"huge header":       long + ",x\n2024-01-01,1,2,3,4,5\n",
	} {
		for reader, read := range map[string]func(string) error{
			"ReadCSV":     func(s string) error { _, err := marketdata.ReadCSV(strings.NewReader(s)); return err },
			"ReadBarsCSV": func(s string) error { _, err := alerts.ReadBarsCSV(strings.NewReader(s)); return err },
		} {
			err := read(text)
			if err == nil {
				t.Errorf("%s %s: accepted", reader, name)
				continue
			}
			msg := err.Error()
			for _, r := range msg {
				if r == '\uFFFD' || (!unicode.IsPrint(r) && r != ' ') {
					t.Errorf("%s %s: error holds raw byte %U: %q", reader, name, r, msg)
					break
				}
			}
			if len(msg) > 400 {
				t.Errorf("%s %s: error of %d bytes, want it cut: %.200q…", reader, name, len(msg), msg)
			}
		}
	}
}

func TestQuoteField(t *testing.T) {
	if got := marketdata.QuoteField("a\x1b[31m\xff"); got != `"a\x1b[31m\xff"` {
		t.Errorf("QuoteField = %s", got)
	}
	got := marketdata.QuoteField(strings.Repeat("x", 1000))
	if !strings.HasSuffix(got, "… (1000 bytes)") || len(got) > marketdata.MaxQuotedField+30 {
		t.Errorf("QuoteField of 1000 bytes = %s", got)
	}
}
