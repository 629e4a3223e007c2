package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"

	"github.com/atf/scheduler/internal/notify"
)

// Directory returns the user directory of this database (notify.Directory):
// the original service's usr_users / usr_auth_identities tables when they
// exist, then this service's notification_recipients table.
func (s *DB) Directory() notify.Directory { return &directory{s: s} }

type directory struct {
	s    *DB
	once sync.Once
	old  bool // usr_users and usr_auth_identities exist
	err  error
}

// Lookup implements notify.Directory.
func (d *directory) Lookup(ctx context.Context, userID int64) (notify.Contact, error) {
	d.once.Do(func() {
		a, err := d.s.tableExists(ctx, d.s.db, "usr_users")
		if err != nil {
			d.err = err
			return
		}
		b, err := d.s.tableExists(ctx, d.s.db, "usr_auth_identities")
		d.old, d.err = a && b, err
	})
	if d.err != nil {
		return notify.Contact{}, fmt.Errorf("user directory: %w", d.err)
	}
	var out notify.Contact
	if d.old {
		var email, chat sql.NullString
		err := d.s.queryRow(ctx, d.s.db, `SELECT u.email,
			(SELECT a.external_id FROM usr_auth_identities a WHERE a.user_id = u.id AND a.provider = 'telegram' LIMIT 1)
			FROM usr_users u WHERE u.id = $1`, userID).Scan(&email, &chat)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return out, fmt.Errorf("look up user %d in usr_users: %w", userID, err)
		}
		out.Email, out.TelegramChatID = email.String, chat.String
	}
	var chat, email, hook sql.NullString
	err := d.s.queryRow(ctx, d.s.db, `SELECT telegram_chat_id, email, webhook_url FROM notification_recipients WHERE user_id = $1`, userID).
		Scan(&chat, &email, &hook)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return out, fmt.Errorf("look up user %d in notification_recipients: %w", userID, err)
	}
	if out.TelegramChatID == "" {
		out.TelegramChatID = chat.String
	}
	if out.Email == "" {
		out.Email = email.String
	}
	out.WebhookURL = hook.String
	return out, nil
}

// SetRecipient stores a user's contact in notification_recipients (used on
// fresh installs without the old user tables).
func (s *DB) SetRecipient(ctx context.Context, userID int64, c notify.Contact) error {
	_, err := s.exec(ctx, s.db, `INSERT INTO notification_recipients (user_id, telegram_chat_id, email, webhook_url)
		VALUES ($1, $2, $3, $4) ON CONFLICT (user_id) DO UPDATE SET telegram_chat_id = $2, email = $3, webhook_url = $4`,
		userID, nullStr(c.TelegramChatID), nullStr(c.Email), nullStr(c.WebhookURL))
	if err != nil {
		return fmt.Errorf("set recipient of user %d: %w", userID, err)
	}
	return nil
}
