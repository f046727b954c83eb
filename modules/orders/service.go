package orders

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/gophermart/gophermart/modules/platform/keyset"
	"github.com/gophermart/gophermart/modules/platform/ordernum"
)

// Service is the orders use cases: upload and list. Safe for concurrent use.
type Service struct {
	store      Store
	notify     Notifier
	log        *slog.Logger
	maxPending int
	now        func() time.Time
}

// NewService returns the orders service; cfg caps each user's pending orders.
func NewService(store Store, notify Notifier, cfg Config, log *slog.Logger) *Service {
	cfg = cfg.withDefaults()
	return &Service{store: store, notify: notify, log: log, maxPending: cfg.MaxPending, now: time.Now}
}

// Upload records that userID bought order n. A new number is stored durably as NEW (Accepted) and
// the Notifier hears of it; a number this user uploaded before is AlreadyUploaded; one another user
// uploaded gives ErrOwnedByAnother. The primary key decides, so two users racing for one number get
// one Accepted and one ErrOwnedByAnother. A new number while the user has Config.MaxPending pending
// orders gives ErrTooManyPending (a number already uploaded is still AlreadyUploaded or
// ErrOwnedByAnother then); the cap holds under concurrent uploads. Call it outside any
// transaction: the notification assumes the insert is committed when Upload returns.
func (s *Service) Upload(ctx context.Context, userID string, n ordernum.Number) (Outcome, error) {
	inserted, err := s.store.Insert(ctx, userID, n, s.now(), s.maxPending)
	if err != nil {
		return 0, err
	}
	if inserted {
		s.log.InfoContext(ctx, "order accepted", "user_id", userID, "order", string(n))
		s.notify.Notify(n)
		return Accepted, nil
	}
	owner, err := s.store.Owner(ctx, n)
	if errors.Is(err, ErrNotFound) {
		// Nobody holds the number, so only the cap refused it. (Had another user inserted it since,
		// 409 would have been as true an answer.)
		return 0, ErrTooManyPending
	}
	if err != nil {
		return 0, fmt.Errorf("upload order %s: %w", n, err)
	}
	if owner != userID {
		return 0, ErrOwnedByAnother
	}
	return AlreadyUploaded, nil
}

// Page returns up to limit orders of userID, newest upload first, starting after the opaque
// cursor ("" for the first page). Page.Next is "" on the last page. A limit outside
// 1..keyset.MaxLimit gives keyset.ErrBadLimit; a cursor this service did not make gives
// keyset.ErrBadCursor.
func (s *Service) Page(ctx context.Context, userID string, limit int, cur string) (Page, error) {
	if err := keyset.CheckLimit(limit); err != nil {
		return Page{}, err
	}
	after, err := keyset.Decode(cur)
	if err != nil {
		return Page{}, err
	}
	items, err := s.store.PageByUser(ctx, userID, after, limit+1)
	if err != nil {
		return Page{}, err
	}
	p := Page{}
	p.Items, p.Next = keyset.Cut(items, limit, func(x Order) keyset.Cursor {
		return keyset.Cursor{At: x.UploadedAt, Key: string(x.Number)}
	})
	return p, nil
}
