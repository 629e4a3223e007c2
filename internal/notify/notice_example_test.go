package notify_test

import (
	"fmt"
	"time"

	"github.com/atf/scheduler/internal/notify"
)

// The recovery notice of a script schedule that failed three times.
func ExampleNotice_Message() {
	n := notify.Notice{Kind: notify.NoticeRecovery, ScheduleID: 7, Name: "vix", JobType: "script", Streak: 1, Failures: 3,
		FirstFailure: time.Date(2026, 12, 1, 6, 0, 0, 0, time.UTC), LastError: "Script exited with code 1"}
	title, body := n.Message()
	fmt.Println(title)
	fmt.Println(body)
	fmt.Println(n.Key("telegram", "859865894"))
	// Output:
	// ✅ vix recovered
	// Schedule 7 (script) ran successfully after 3 failed runs (failing since 2026-12-01 06:00 UTC).
	// Last error:
	// Script exited with code 1
	// sched:7:streak:1:recovery:telegram:859865894
}
