package engine_test

import (
	"fmt"

	"github.com/atf/scheduler/internal/engine"
)

// A schedule opts out of failure notices with options.notify_on_failure;
// the job type's handler sees task_params without it.
func ExampleStripNoticeOption() {
	on, rest, err := engine.StripNoticeOption([]byte(`{"script_path": "src/data/vix.py", "options": {"notify_on_failure": false}}`))
	fmt.Println(*on, string(rest), err)
	_, _, err = engine.StripNoticeOption([]byte(`{"options": {"notify_on_failure": "no"}}`))
	fmt.Println(err)
	// Output:
	// false {"script_path":"src/data/vix.py"} <nil>
	// options.notify_on_failure = "no": want true or false
}
