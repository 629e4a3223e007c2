package store_test

import (
	"context"
	"testing"

	"github.com/atf/scheduler/internal/notify"
	"github.com/atf/scheduler/internal/store"
	"github.com/atf/scheduler/internal/store/storetest"
)

func TestDirectoryUsesOldUserTables(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		for _, q := range []string{
			`CREATE TABLE usr_users (id INTEGER PRIMARY KEY, email VARCHAR(255))`,
			`CREATE TABLE usr_auth_identities (id INTEGER PRIMARY KEY, user_id INTEGER, provider VARCHAR(50), external_id VARCHAR(255))`,
			`INSERT INTO usr_users (id, email) VALUES (7, 'trader@example.com')`,
			`INSERT INTO usr_auth_identities (id, user_id, provider, external_id) VALUES (1, 7, 'google', 'g-1'), (2, 7, 'telegram', '859865894')`,
		} {
			if _, err := db.SQL().Exec(q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		if err := db.SetRecipient(ctx, 7, notify.Contact{TelegramChatID: "ignored", WebhookURL: "https://hooks.example/x"}); err != nil {
			t.Fatal(err)
		}
		c, err := db.Directory().Lookup(ctx, 7)
		want := notify.Contact{TelegramChatID: "859865894", Email: "trader@example.com", WebhookURL: "https://hooks.example/x"}
		if err != nil || c != want {
			t.Fatalf("Lookup(7) = %+v, %v; want %+v", c, err, want)
		}
		if c, err := db.Directory().Lookup(ctx, 8); err != nil || c != (notify.Contact{}) {
			t.Fatalf("unknown user = %+v, %v", c, err)
		}
	})
}

func TestDirectoryFreshInstall(t *testing.T) {
	db := storetest.SQLite(t)
	ctx := context.Background()
	if err := db.SetRecipient(ctx, 1, notify.Contact{TelegramChatID: "42", Email: "a@b.c"}); err != nil {
		t.Fatal(err)
	}
	c, err := db.Directory().Lookup(ctx, 1)
	if err != nil || c.TelegramChatID != "42" || c.Email != "a@b.c" {
		t.Fatalf("Lookup = %+v, %v", c, err)
	}
}
