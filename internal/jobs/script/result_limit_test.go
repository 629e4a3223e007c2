package script

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// A result line over MaxResultLineBytes fails the run with an error naming
// its size and the limit, even when the script exits 0; one just under the
// limit is the result.
func TestRunResultLineOverLimitFailsRun(t *testing.T) {
	cfg := testRoot(t)
	// The payload is {"a": "xxx…"}: 9 bytes around the x's.
	over := MaxResultLineBytes + 10 - 9
	writeScript(t, cfg.Root, "src/big.sh", fmt.Sprintf(
		"#!/bin/sh\nprintf '__SCHEDULER_RESULT__:{\"a\": \"'\nhead -c %d /dev/zero | tr '\\0' x\nprintf '\"}\\n'\necho done\n", over))
	res, err := Run(context.Background(), cfg, Params{ScriptPath: "src/big.sh"})
	var tl *ResultTooLongError
	if !errors.As(err, &tl) || tl.Bytes != MaxResultLineBytes+10 {
		t.Fatalf("err = %v, want a ResultTooLongError of %d bytes", err, MaxResultLineBytes+10)
	}
	want := fmt.Sprintf("__SCHEDULER_RESULT__ line of %d bytes exceeds the 1 MiB limit", MaxResultLineBytes+10)
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error %q, want it to contain %q", err, want)
	}
	if res.Success || res.ExitCode != 0 || !strings.Contains(fmt.Sprint(res.ScriptResult["parse_error"]), want) {
		t.Errorf("result %+v: want not successful, exit 0, parse_error naming the size", res.ScriptResult)
	}

	under := MaxResultLineBytes - 9
	writeScript(t, cfg.Root, "src/fits.sh", fmt.Sprintf(
		"#!/bin/sh\nprintf '__SCHEDULER_RESULT__:{\"a\": \"'\nhead -c %d /dev/zero | tr '\\0' x\nprintf '\"}\\n'\n", under))
	res, err = Run(context.Background(), cfg, Params{ScriptPath: "src/fits.sh"})
	if err != nil || !res.Success || len(fmt.Sprint(res.ScriptResult["a"])) != under {
		t.Fatalf("a line of exactly the limit: err %v, success %t", err, res.Success)
	}
}
