package orders

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/gophermart/gophermart/modules/platform/keyset"
	"github.com/gophermart/gophermart/modules/platform/ordernum"
	"github.com/gophermart/gophermart/modules/platform/points"
	"github.com/gophermart/gophermart/modules/platform/web"
)

// pendingRetryAfter is the Retry-After, in seconds, of a 429 for too many pending orders: pending
// orders become final as the accrual system answers, which takes seconds to minutes.
const pendingRetryAfter = "60"

// maxUploadBody caps the body of an upload: an order number is at most ordernum.MaxLen digits, so
// anything over 1 KiB is not one.
const maxUploadBody = 1 << 10

// NewRoutes returns the orders endpoints, all behind the JWT guard. Only the lists are gzipped.
func NewRoutes(s *Service) web.Routes {
	h := handlers{s: s}
	return web.Routes{
		Protected: func(r fiber.Router) {
			r.Post("/orders", h.upload)
			r.Get("/orders", web.Gzip(), h.list)
			r.Get("/orders/page", web.Gzip(), h.page)
		},
		Errors: []web.ErrorStatus{
			{Err: ErrOwnedByAnother, Status: fiber.StatusConflict},
			{Err: ErrTooManyPending, Status: fiber.StatusTooManyRequests},
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

type orderItem struct {
	Number     string         `json:"number"`
	Status     string         `json:"status"`
	Accrual    *points.Amount `json:"accrual,omitempty"`
	UploadedAt string         `json:"uploaded_at"`
}

type orderPage struct {
	Items      []orderItem `json:"items"`
	NextCursor string      `json:"next_cursor,omitempty"`
}

// listedOrder is an order as the list writes it: the JSON of its orderItem (toItems), appended
// without reflection and without formatting the time into a string first.
type listedOrder Order

// AppendJSON implements web.JSONAppender: what json.Marshal writes for the order's orderItem.
func (o *listedOrder) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"number":`...)
	dst = web.AppendString(dst, string(o.Number))
	dst = append(dst, `,"status":`...)
	dst = web.AppendString(dst, o.Status)
	if a, ok := Order(*o).Credited(); ok {
		dst = append(dst, `,"accrual":`...)
		dst = points.AppendJSON(dst, a)
	}
	dst = append(dst, `,"uploaded_at":"`...)
	dst = o.UploadedAt.AppendFormat(dst, time.RFC3339) // digits, '-', ':', 'T', 'Z', '+': nothing to escape
	return append(dst, `"}`...)
}

func toListed(orders []Order) []listedOrder {
	out := make([]listedOrder, len(orders))
	for i, o := range orders {
		out[i] = listedOrder(o)
	}
	return out
}

func toItems(orders []Order) []orderItem {
	out := make([]orderItem, len(orders))
	for i, o := range orders {
		out[i] = orderItem{Number: string(o.Number), Status: o.Status, UploadedAt: o.UploadedAt.Format(time.RFC3339)}
		if a, ok := o.Credited(); ok {
			out[i].Accrual = &a
		}
	}
	return out
}

// upload is POST /api/user/orders: the text/plain body is the order number.
func (h handlers) upload(c *fiber.Ctx) error {
	body := c.Body()
	if len(body) > maxUploadBody {
		return fiber.NewError(fiber.StatusBadRequest, "oversized body: an order number is at most "+
			strconv.Itoa(ordernum.MaxLen)+" digits")
	}
	text := strings.TrimSpace(string(body))
	if text == "" {
		return fiber.NewError(fiber.StatusBadRequest, "empty body: the order number is required")
	}
	n, err := ordernum.Parse(text)
	if err != nil {
		return err
	}
	outcome, err := h.s.Upload(c.UserContext(), web.UserID(c), n)
	if errors.Is(err, ErrTooManyPending) {
		c.Set(fiber.HeaderRetryAfter, pendingRetryAfter)
	}
	if err != nil {
		return err
	}
	if outcome == Accepted {
		return c.SendStatus(fiber.StatusAccepted)
	}
	return c.SendStatus(fiber.StatusOK)
}

// listChunk is how many orders the plain list reads per query: the most a page may hold.
const listChunk = keyset.MaxLimit

// list is GET /api/user/orders: every order of the caller, newest upload first; 204 when none. The
// list is read and written chunk by chunk (keyset pages), so a user with tens of thousands of orders
// costs the memory of one chunk, not of the whole list.
//
// Each chunk is its own query, so the list is not one snapshot; but a row's key (its time and order
// number) never changes, so no row is missed or repeated between chunks.
func (h handlers) list(c *fiber.Ctx) error {
	userID, cursor := web.UserID(c), ""
	return web.SendList(c, h.s.log, func(ctx context.Context) ([]listedOrder, bool, error) {
		p, err := h.s.Page(ctx, userID, listChunk, cursor)
		if err != nil {
			return nil, false, err
		}
		cursor = p.Next
		return toListed(p.Items), p.Next != "", nil
	})
}

// page is GET /api/user/orders/page?limit=&cursor=: one keyset page, 200 even when empty.
func (h handlers) page(c *fiber.Ctx) error {
	limit, err := keyset.ParseLimit(c.Query("limit"))
	if err != nil {
		return err
	}
	p, err := h.s.Page(c.UserContext(), web.UserID(c), limit, c.Query("cursor"))
	if err != nil {
		return err
	}
	return c.JSON(orderPage{Items: toItems(p.Items), NextCursor: p.Next})
}
