package notify

import (
	"errors"
	"fmt"
	"strings"
)

// DeliveryMode is NOTIFICATION_DELIVERY: who delivers telegram and email
// notifications.
type DeliveryMode string

// Delivery modes.
const (
	// DeliveryAuto uses the framework's queue when its tables exist, else
	// this service's outbox and sinks. The default.
	DeliveryAuto DeliveryMode = "auto"
	// DeliveryFramework writes telegram and email notifications into the
	// framework's queue (msg_messages + msg_delivery_status), delivered by
	// the framework's notification processor; the tables must exist.
	DeliveryFramework DeliveryMode = "framework"
	// DeliveryDirect always uses this service's outbox and sinks.
	DeliveryDirect DeliveryMode = "direct"
)

// ErrBadDeliveryMode is returned (wrapped) by ParseDeliveryMode for a value
// that is not auto, framework or direct.
var ErrBadDeliveryMode = errors.New("want auto, framework or direct")

// ErrFrameworkQueueMissing is returned (wrapped) by ResolveDelivery when
// NOTIFICATION_DELIVERY=framework but the framework's queue tables do not
// exist in the database.
var ErrFrameworkQueueMissing = errors.New("the framework's notification queue (msg_messages, msg_delivery_status) does not exist in this database")

// ParseDeliveryMode reads NOTIFICATION_DELIVERY case-insensitively; ""
// means auto. The error names the variable and the value.
func ParseDeliveryMode(s string) (DeliveryMode, error) {
	switch m := DeliveryMode(strings.ToLower(strings.TrimSpace(s))); m {
	case "":
		return DeliveryAuto, nil
	case DeliveryAuto, DeliveryFramework, DeliveryDirect:
		return m, nil
	}
	return "", fmt.Errorf("NOTIFICATION_DELIVERY=%q: %w", s, ErrBadDeliveryMode)
}

// Delivery is the mode in effect and why.
type Delivery struct {
	Mode      DeliveryMode // as configured
	Framework bool         // telegram and email go to the framework's queue
	Reason    string       // e.g. "msg_messages found"
}

// String is what `status` and /status show, e.g. "framework (msg_messages
// found)" or "direct (NOTIFICATION_DELIVERY=direct)".
func (d Delivery) String() string {
	if d.Framework {
		return "framework (" + d.Reason + ")"
	}
	return "direct (" + d.Reason + ")"
}

// ResolveDelivery decides the mode in effect from the configured mode and
// whether the framework's queue tables exist. framework without the tables
// is an error wrapping ErrFrameworkQueueMissing.
func ResolveDelivery(mode DeliveryMode, queueFound bool) (Delivery, error) {
	d := Delivery{Mode: mode}
	switch mode {
	case DeliveryFramework:
		if !queueFound {
			return d, fmt.Errorf("NOTIFICATION_DELIVERY=framework: %w; use auto or direct", ErrFrameworkQueueMissing)
		}
		d.Framework, d.Reason = true, "NOTIFICATION_DELIVERY=framework"
	case DeliveryDirect:
		d.Reason = "NOTIFICATION_DELIVERY=direct"
	case DeliveryAuto, "":
		d.Mode = DeliveryAuto
		if queueFound {
			d.Framework, d.Reason = true, "msg_messages found"
		} else {
			d.Reason = "msg_messages not found"
		}
	default:
		return d, fmt.Errorf("NOTIFICATION_DELIVERY=%q: %w", mode, ErrBadDeliveryMode)
	}
	return d, nil
}

// QueueChannel reports whether the framework's notification processor
// delivers channel ch (telegram and email). Other channels (webhook, log)
// stay in this service's outbox in every mode.
func QueueChannel(ch string) bool { return ch == ChannelTelegram || ch == ChannelEmail }

// QueueMessageType maps a notification type to the framework's
// msg_messages.message_type: job notifications were REPORT in the old
// service, alerts ALERT.
func QueueMessageType(typ string) string {
	switch typ {
	case "", TypeAlert:
		return TypeAlert
	case TypeJob:
		return "REPORT"
	}
	return strings.ToUpper(typ)
}
