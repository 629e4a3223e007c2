package script

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// testRoot creates a project root with the allowed directories src and
// scripts and a directory "other" that is not allowed.
func testRoot(t testing.TB) Config {
	t.Helper()
	root := t.TempDir()
	for _, d := range []string{"src", "scripts", "other"} {
		if err := os.Mkdir(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return Config{Root: root, AllowedDirs: []string{"src", "scripts"}, Python: DefaultPython, KillGrace: 100 * time.Millisecond,
		Logger: slog.New(slog.DiscardHandler)}
}

// writeScript writes an executable file at rel under root.
func writeScript(t testing.TB, root, rel, body string) {
	t.Helper()
	writeFile(t, root, rel, body, 0o755)
}

// writeFile writes a file with the given mode at rel under root.
func writeFile(t testing.TB, root, rel, body string, mode os.FileMode) {
	t.Helper()
	p := filepath.Join(root, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(body), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
}

// runAsync starts Run in a goroutine; the result arrives on the channel.
type runOutcome struct {
	res Result
	err error
}

func runAsync(ctx context.Context, cfg Config, p Params) <-chan runOutcome {
	ch := make(chan runOutcome, 1)
	go func() {
		res, err := Run(ctx, cfg, p)
		ch <- runOutcome{res, err}
	}()
	return ch
}
