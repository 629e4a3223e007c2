package notify_test

import (
	"strings"
	"testing"
	"time"

	"github.com/atf/scheduler/internal/notify"
)

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestOptionsFromEnvDefaults(t *testing.T) {
	o, err := notify.OptionsFromEnv(envOf(nil))
	if err != nil {
		t.Fatal(err)
	}
	if o.ServiceURL != "http://localhost:8000" || o.Timeout != 30*time.Second || o.Retries != 3 || !o.Enabled ||
		o.TelegramAPIURL != "https://api.telegram.org" || o.SMTP.Port != 587 || o.DefaultChannel != "log" || o.SMTP.Configured() {
		t.Errorf("defaults %+v", o)
	}
}

func TestOptionsFromEnvAll(t *testing.T) {
	o, err := notify.OptionsFromEnv(envOf(map[string]string{
		"NOTIFICATION_SERVICE_URL": "http://bot:8000/",
		"NOTIFICATION_TIMEOUT":     "2.5",
		"NOTIFICATION_RETRIES":     "0",
		"NOTIFICATION_ENABLED":     "false",
		"TELEGRAM_BOT_TOKEN":       "123:abc",
		"TELEGRAM_API_URL":         "http://tg.local",
		"TELEGRAM_DEFAULT_CHAT_ID": "-100123",
		"WEBHOOK_SECRET":           " keep spaces ",
		"SMTP_HOST":                "smtp.example.com",
		"SMTP_PORT":                "465",
		"SMTP_USER":                "bot@example.com",
		"SMTP_PASSWORD":            "pw",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if o.ServiceURL != "http://bot:8000" || o.Timeout != 2500*time.Millisecond || o.Retries != 0 || o.Enabled ||
		o.TelegramBotToken != "123:abc" || o.TelegramAPIURL != "http://tg.local" || o.TelegramDefaultChatID != "-100123" ||
		o.WebhookSecret != " keep spaces " || o.SMTP.Port != 465 || o.SMTP.From != "bot@example.com" || o.DefaultChannel != "telegram" {
		t.Errorf("parsed %+v", o)
	}
}

func TestOptionsFromEnvErrorsNameVariableAndValue(t *testing.T) {
	_, err := notify.OptionsFromEnv(envOf(map[string]string{
		"NOTIFICATION_SERVICE_URL":     "localhost:8000",
		"NOTIFICATION_TIMEOUT":         "thirty",
		"NOTIFICATION_RETRIES":         "-1",
		"NOTIFICATION_ENABLED":         "maybe",
		"TELEGRAM_DEFAULT_CHAT_ID":     "my chat",
		"SMTP_PORT":                    "70000",
		"SMTP_HOST":                    "smtp.example.com",
		"NOTIFICATION_DEFAULT_CHANNEL": "sms",
	}))
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		`NOTIFICATION_SERVICE_URL="localhost:8000"`, `NOTIFICATION_TIMEOUT="thirty"`, `NOTIFICATION_RETRIES="-1"`,
		`NOTIFICATION_ENABLED="maybe"`, `TELEGRAM_DEFAULT_CHAT_ID="my chat"`, `SMTP_PORT="70000"`, "SMTP_FROM is empty",
		`NOTIFICATION_DEFAULT_CHANNEL="sms"`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %s:\n%v", want, err)
		}
	}
}
