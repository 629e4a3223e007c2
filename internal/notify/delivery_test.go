package notify_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/atf/scheduler/internal/notify"
)

func TestDeliveryModes(t *testing.T) {
	for in, want := range map[string]notify.DeliveryMode{"": notify.DeliveryAuto, "AUTO": notify.DeliveryAuto,
		" framework ": notify.DeliveryFramework, "direct": notify.DeliveryDirect} {
		if got, err := notify.ParseDeliveryMode(in); err != nil || got != want {
			t.Errorf("ParseDeliveryMode(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	_, err := notify.ParseDeliveryMode("queue")
	if !errors.Is(err, notify.ErrBadDeliveryMode) || !strings.Contains(err.Error(), "NOTIFICATION_DELIVERY") {
		t.Errorf("bad mode: %v", err)
	}

	for _, tc := range []struct {
		mode  notify.DeliveryMode
		found bool
		want  string
	}{
		{notify.DeliveryAuto, true, "framework (msg_messages found)"},
		{notify.DeliveryAuto, false, "direct (msg_messages not found)"},
		{notify.DeliveryFramework, true, "framework (NOTIFICATION_DELIVERY=framework)"},
		{notify.DeliveryDirect, true, "direct (NOTIFICATION_DELIVERY=direct)"},
		{notify.DeliveryDirect, false, "direct (NOTIFICATION_DELIVERY=direct)"},
	} {
		d, err := notify.ResolveDelivery(tc.mode, tc.found)
		if err != nil || d.String() != tc.want || d.Framework != strings.HasPrefix(tc.want, "framework") {
			t.Errorf("ResolveDelivery(%s, %v) = %q (framework %v), %v; want %q", tc.mode, tc.found, d, d.Framework, err, tc.want)
		}
	}
	_, err = notify.ResolveDelivery(notify.DeliveryFramework, false)
	if !errors.Is(err, notify.ErrFrameworkQueueMissing) || !strings.Contains(err.Error(), "NOTIFICATION_DELIVERY=framework") {
		t.Errorf("framework without tables: %v", err)
	}
}

func TestQueueMapping(t *testing.T) {
	for typ, want := range map[string]string{"": "ALERT", notify.TypeAlert: "ALERT", notify.TypeJob: "REPORT", notify.TypeSystem: "SYSTEM"} {
		if got := notify.QueueMessageType(typ); got != want {
			t.Errorf("QueueMessageType(%q) = %q, want %q", typ, got, want)
		}
	}
	if !notify.QueueChannel("telegram") || !notify.QueueChannel("email") || notify.QueueChannel("webhook") || notify.QueueChannel("log") {
		t.Error("QueueChannel: the framework's processor delivers telegram and email only")
	}
}

// In framework mode HIGH and CRITICAL add email even without SMTP here:
// the framework's processor has its own SMTP settings.
func TestPlanUrgentEmailInFrameworkMode(t *testing.T) {
	dir := notify.StaticDirectory{42: {TelegramChatID: "859865894", Email: "trader@example.com"}}
	for _, fw := range []bool{false, true} {
		o := notify.DefaultOptions()
		o.FrameworkQueue = fw
		p := &notify.Planner{Options: o, Directory: dir, Logger: quietLogger()}
		ns, err := p.Plan(t.Context(), notify.Request{ScheduleID: 7, RunID: 1, UserID: 42, Channels: []string{"telegram"},
			Priority: notify.PriorityHigh, Title: "t", Body: "b"})
		if err != nil {
			t.Fatal(err)
		}
		var chans []string
		for _, n := range ns {
			chans = append(chans, n.Channel)
			if n.QueueRecipient != "42" {
				t.Errorf("QueueRecipient %q, want the schedule's user id 42", n.QueueRecipient)
			}
		}
		if want := map[bool]string{false: "telegram", true: "telegram,email"}[fw]; strings.Join(chans, ",") != want {
			t.Errorf("framework=%v: channels %v, want %s", fw, chans, want)
		}
	}
	// notify.recipient_id wins as recipient_id, as in the old service.
	p := &notify.Planner{Options: notify.DefaultOptions(), Directory: dir, Logger: quietLogger()}
	ns, err := p.Plan(t.Context(), notify.Request{ScheduleID: 7, RunID: 1, UserID: 42, Channels: []string{"telegram"},
		TelegramChatID: "-1001", Title: "t", Body: "b"})
	if err != nil || len(ns) != 1 || ns[0].QueueRecipient != "-1001" {
		t.Errorf("explicit chat id: %+v, %v", ns, err)
	}
}
