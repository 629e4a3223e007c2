package main

import (
	"strings"
	"testing"

	"github.com/atf/scheduler/internal/store/storetest"
)

// `status` says which notification delivery is in effect and why;
// NOTIFICATION_DELIVERY is validated up front, and framework without the
// framework's tables stops the command with the reason.
func TestStatusShowsNotificationDelivery(t *testing.T) {
	eachCLIDB(t, func(t *testing.T, c *cliDB) {
		if out := c.must(t, "status"); !strings.Contains(out, "notification delivery: direct (msg_messages not found)") {
			t.Errorf("status:\n%s", out)
		}
		base := c.env
		defer func() { c.env = base }()
		c.env = append(append([]string(nil), base...), "NOTIFICATION_DELIVERY=framework")
		if out, code := c.run(t, "status"); code == 0 || !strings.Contains(out, "NOTIFICATION_DELIVERY=framework") ||
			!strings.Contains(out, "msg_messages") {
			t.Errorf("framework without the tables: exit %d\n%s", code, out)
		}
		c.env = append(append([]string(nil), base...), "NOTIFICATION_DELIVERY=queue")
		if out, code := c.run(t, "status"); code == 0 || !strings.Contains(out, `NOTIFICATION_DELIVERY="queue"`) {
			t.Errorf("bad value: exit %d\n%s", code, out)
		}
	})
}

func TestStatusShowsFrameworkDelivery(t *testing.T) {
	url := storetest.FrameworkURL(t, storetest.JobIDInt4)
	c := &cliDB{dir: t.TempDir()}
	c.env = append(testEnv(c.dir), "DATABASE_URL="+url)
	c.must(t, "migrate")
	if out := c.must(t, "status"); !strings.Contains(out, "notification delivery: framework (msg_messages found)") {
		t.Errorf("status:\n%s", out)
	}
	c.env = append(c.env, "NOTIFICATION_DELIVERY=direct")
	if out := c.must(t, "status"); !strings.Contains(out, "notification delivery: direct (NOTIFICATION_DELIVERY=direct)") {
		t.Errorf("status with direct:\n%s", out)
	}
}
