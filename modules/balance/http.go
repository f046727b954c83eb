package balance

import (
	"context"
	"encoding/json"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/gophermart/gophermart/modules/platform/keyset"
	"github.com/gophermart/gophermart/modules/platform/ordernum"
	"github.com/gophermart/gophermart/modules/platform/points"
	"github.com/gophermart/gophermart/modules/platform/web"
)

// NewRoutes returns the balance endpoints, all behind the JWT guard. Only the lists are gzipped.
func NewRoutes(s *Service) web.Routes {
	h := handlers{s: s}
	return web.Routes{
		Protected: func(r fiber.Router) {
			r.Get("/balance", h.balance)
			r.Post("/balance/withdraw", h.withdraw)
			r.Get("/withdrawals", web.Gzip(), h.list)
			r.Get("/withdrawals/page", web.Gzip(), h.page)
		},
		Errors: []web.ErrorStatus{
			{Err: ErrInsufficientFunds, Status: fiber.StatusPaymentRequired},
			{Err: ErrOrderUsed, Status: fiber.StatusUnprocessableEntity},
			{Err: ErrInvalidSum, Status: fiber.StatusUnprocessableEntity},
			{Err: points.ErrInvalid, Status: fiber.StatusUnprocessableEntity},
			{Err: points.ErrOutOfRange, Status: fiber.StatusUnprocessableEntity},
			{Err: ordernum.ErrInvalid, Status: fiber.StatusUnprocessableEntity},
			{Err: keyset.ErrBadCursor, Status: fiber.StatusBadRequest},
			{Err: ErrUnknownUser, Status: fiber.StatusUnauthorized},
			{Err: keyset.ErrBadLimit, Status: fiber.StatusBadRequest},
		},
	}
}

type handlers struct {
	s *Service
}

type balanceResponse struct {
	Current   points.Amount `json:"current"`
	Withdrawn points.Amount `json:"withdrawn"`
}

// withdrawRequest keeps the sum raw so that every bad sum (a string, a bool, null, missing) is
// refused by points.Amount itself, as 422, rather than by the JSON decoder as a 400 about types.
type withdrawRequest struct {
	Order string          `json:"order"`
	Sum   json.RawMessage `json:"sum"`
}

type withdrawalItem struct {
	Order       string        `json:"order"`
	Sum         points.Amount `json:"sum"`
	ProcessedAt string        `json:"processed_at"`
}

type withdrawalPage struct {
	Items      []withdrawalItem `json:"items"`
	NextCursor string           `json:"next_cursor,omitempty"`
}

// listedWithdrawal is a withdrawal as the list writes it: the JSON of its withdrawalItem, appended
// without reflection and without formatting the time into a string first.
type listedWithdrawal Withdrawal

// AppendJSON implements web.JSONAppender: what json.Marshal writes for the withdrawal's
// withdrawalItem (toItems).
func (w *listedWithdrawal) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"order":`...)
	dst = web.AppendString(dst, string(w.Order))
	dst = append(dst, `,"sum":`...)
	dst = points.AppendJSON(dst, w.Sum)
	dst = append(dst, `,"processed_at":"`...)
	dst = w.ProcessedAt.AppendFormat(dst, time.RFC3339) // digits, '-', ':', 'T', 'Z', '+': nothing to escape
	return append(dst, `"}`...)
}

func toListed(ws []Withdrawal) []listedWithdrawal {
	out := make([]listedWithdrawal, len(ws))
	for i, w := range ws {
		out[i] = listedWithdrawal(w)
	}
	return out
}

func toItems(ws []Withdrawal) []withdrawalItem {
	out := make([]withdrawalItem, len(ws))
	for i, w := range ws {
		out[i] = withdrawalItem{Order: string(w.Order), Sum: w.Sum, ProcessedAt: w.ProcessedAt.Format(time.RFC3339)}
	}
	return out
}

// balance is GET /api/user/balance.
func (h handlers) balance(c *fiber.Ctx) error {
	b, err := h.s.Balance(c.UserContext(), web.UserID(c))
	if err != nil {
		return err
	}
	var buf [64]byte // the longest answer is under 60 bytes
	return web.SendRawJSON(c, appendBalance(buf[:0], b))
}

// appendBalance appends b as {"current":…,"withdrawn":…}: what json.Marshal(balanceResponse(b))
// writes, without its reflection.
func appendBalance(dst []byte, b Balance) []byte {
	dst = append(dst, `{"current":`...)
	dst = points.AppendJSON(dst, b.Current)
	dst = append(dst, `,"withdrawn":`...)
	dst = points.AppendJSON(dst, b.Withdrawn)
	return append(dst, '}')
}

// withdraw is POST /api/user/balance/withdraw {"order","sum"}.
func (h handlers) withdraw(c *fiber.Ctx) error {
	var req withdrawRequest
	if err := web.DecodeJSON(c, &req); err != nil {
		return err
	}
	n, err := ordernum.Parse(req.Order)
	if err != nil {
		return err
	}
	var sum points.Amount
	if err := sum.UnmarshalJSON(req.Sum); err != nil {
		return err
	}
	if err := h.s.Withdraw(c.UserContext(), web.UserID(c), n, sum); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusOK)
}

// listChunk is how many withdrawals the plain list reads per query: the most a page may hold.
const listChunk = keyset.MaxLimit

// list is GET /api/user/withdrawals: every withdrawal of the caller, newest first; 204 when none. The
// list is read and written chunk by chunk (keyset pages), so a long history costs the memory of one
// chunk, not of the whole list.
//
// Each chunk is its own query, so the list is not one snapshot; but a row's key (its time and order
// number) never changes, so no row is missed or repeated between chunks.
func (h handlers) list(c *fiber.Ctx) error {
	userID, cursor := web.UserID(c), ""
	return web.SendList(c, h.s.log, func(ctx context.Context) ([]listedWithdrawal, bool, error) {
		p, err := h.s.WithdrawalsPage(ctx, userID, listChunk, cursor)
		if err != nil {
			return nil, false, err
		}
		cursor = p.Next
		return toListed(p.Items), p.Next != "", nil
	})
}

// page is GET /api/user/withdrawals/page?limit=&cursor=: one keyset page, 200 even when empty.
func (h handlers) page(c *fiber.Ctx) error {
	limit, err := keyset.ParseLimit(c.Query("limit"))
	if err != nil {
		return err
	}
	p, err := h.s.WithdrawalsPage(c.UserContext(), web.UserID(c), limit, c.Query("cursor"))
	if err != nil {
		return err
	}
	return c.JSON(withdrawalPage{Items: toItems(p.Items), NextCursor: p.Next})
}
