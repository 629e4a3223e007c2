package marketdata

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
)

// MaxSymbolLength is the longest symbol (ticker) accepted.
const MaxSymbolLength = 32

// symbolPattern is the syntax of a symbol: the characters of Binance
// (BTCUSDT), Yahoo (^VIX, BTC-USD, EURUSD=X, BRK.B, 7203.T) and exchange
// prefixes (NASDAQ:AAPL).
var symbolPattern = regexp.MustCompile(`^[A-Za-z0-9^=._:-]+$`)

// CheckSymbol refuses a symbol that is not a market symbol: empty, longer
// than MaxSymbolLength, characters other than A-Z a-z 0-9 ^ = . _ : -, "..",
// a leading "." or a path separator. Symbols become parts of file names
// (the CSV provider's SYMBOL_TIMEFRAME.csv) and of provider URLs, so this
// is a safety check. Errors name the symbol and say what is allowed.
func CheckSymbol(s string) error {
	const examples = "a market symbol such as BTCUSDT, AAPL, ^VIX, BTC-USD, EURUSD=X or BRK.B"
	switch {
	case s == "":
		return fmt.Errorf("symbol \"\": empty; want %s", examples)
	case len(s) > MaxSymbolLength:
		return fmt.Errorf("symbol %.40q…: %d characters, at most %d allowed", s, len(s), MaxSymbolLength)
	case strings.ContainsAny(s, `/\`):
		return fmt.Errorf("symbol %q: must not contain / or \\; want %s", s, examples)
	case strings.Contains(s, "..") || strings.HasPrefix(s, "."):
		return fmt.Errorf("symbol %q: must not contain \"..\" or start with \".\"; want %s", s, examples)
	case !symbolPattern.MatchString(s):
		return fmt.Errorf("symbol %q: only letters, digits and ^ = . _ : - are allowed; want %s", s, examples)
	}
	return nil
}

// csvFile returns the path of SYMBOL_TIMEFRAME.csv inside dir, or an error
// when the symbol is not a valid symbol or the cleaned path would leave dir.
func csvFile(dir, symbol string, tf Timeframe) (string, error) {
	if err := CheckSymbol(symbol); err != nil {
		return "", err
	}
	if _, ok := timeframes[tf]; !ok {
		return "", fmt.Errorf("%w: %q", ErrUnsupportedTimeframe, tf)
	}
	base := filepath.Clean(dir)
	path := filepath.Join(base, symbol+"_"+string(tf)+".csv")
	rel, err := filepath.Rel(base, path)
	if err != nil || rel != filepath.Base(path) || strings.HasPrefix(rel, "..") {
		return "", fmt.Errorf("symbol %q: file name %q leaves DATA_CSV_DIR %s", symbol, symbol+"_"+string(tf)+".csv", dir)
	}
	return path, nil
}
