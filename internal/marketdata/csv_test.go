package marketdata

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestReadCSVFormats(t *testing.T) {
	in := "\ufeffDate,Open,High,Low,Close,Adj Close,Volume\n" +
		"2024-01-02,187.15,188.44,183.89,185.64,184.93,82488700\n" +
		"2024-01-03T00:00:00Z,184.22,185.88,183.43,184.25,183.54,58414500\n" +
		"1704412800,182.15,183.09,180.88,181.91,181.22,71983600\n"
	bars, err := ReadCSV(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []Bar{
		{mustTime(t, "2024-01-02T00:00:00Z"), 187.15, 188.44, 183.89, 185.64, 82488700},
		{mustTime(t, "2024-01-03T00:00:00Z"), 184.22, 185.88, 183.43, 184.25, 58414500},
		{mustTime(t, "2024-01-05T00:00:00Z"), 182.15, 183.09, 180.88, 181.91, 71983600},
	}
	if !reflect.DeepEqual(bars, want) {
		t.Errorf("got %+v\nwant %+v", bars, want)
	}

	noHeader := "2024-01-01T00:00:00+01:00,1,2,0.5,1.5,10\n"
	bars, err = ReadCSV(strings.NewReader(noHeader))
	if err != nil || len(bars) != 1 || !bars[0].Time.Equal(mustTime(t, "2023-12-31T23:00:00Z")) || bars[0].Time.Location() != time.UTC {
		t.Errorf("no header: %+v %v", bars, err)
	}
}

func TestReadCSVErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"time,open,high,low,close\n", `header has no "volume" column`},
		{"time,open,high,low,close,volume\n2024-01-01,1,2,x,1,1\n", `csv line 2: low "x" is not a number`},
		{"time,open,high,low,close,volume\n01/02/2024,1,2,0,1,1\n", `csv line 2: time "01/02/2024"`},
		{"2024-01-01,1,2,0\n", "csv line 1: no close column"},
	} {
		_, err := ReadCSV(strings.NewReader(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ReadCSV(%q) err = %v, want %q", tc.in, err, tc.want)
		}
	}
}

func TestWriteReadCSVRoundTrip(t *testing.T) {
	bars := hourly(t, "2024-01-01T00:00:00Z", 10)
	var buf bytes.Buffer
	if err := WriteCSV(&buf, bars); err != nil {
		t.Fatal(err)
	}
	back, err := ReadCSV(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, bars) {
		t.Errorf("round trip changed bars")
	}
}

func TestCSVProvider(t *testing.T) {
	dir := t.TempDir()
	bars := hourly(t, "2024-01-01T00:00:00Z", 10)
	var buf bytes.Buffer
	WriteCSV(&buf, bars)
	if err := os.WriteFile(filepath.Join(dir, "^VIX_1h.csv"), buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	p := NewCSV(dir)
	got, err := p.Bars(context.Background(), "^VIX", "1h", mustTime(t, "2024-01-01T02:00:00Z"), mustTime(t, "2024-01-01T04:00:00Z"))
	if err != nil || len(got) != 3 || !got[0].Time.Equal(bars[2].Time) {
		t.Errorf("range read: %+v %v", got, err)
	}
	if _, err := p.Bars(context.Background(), "AAPL", "1h", bars[0].Time, bars[9].Time); !errors.Is(err, ErrSymbolNotFound) || !strings.Contains(err.Error(), "AAPL_1h.csv") {
		t.Errorf("missing file: %v", err)
	}
	if _, err := p.Bars(context.Background(), "../etc", "1h", bars[0].Time, bars[9].Time); err == nil {
		t.Error("path traversal symbol accepted")
	}
}
