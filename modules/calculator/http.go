package calculator

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"
	"github.com/shopspring/decimal"

	"github.com/gophermart/gophermart/modules/platform/ordernum"
	"github.com/gophermart/gophermart/modules/platform/points"
	"github.com/gophermart/gophermart/modules/platform/web"
)

type mechanicRequest struct {
	Match      string          `json:"match"`
	Reward     json.RawMessage `json:"reward"` // a JSON number, read exactly
	RewardType string          `json:"reward_type"`
}

type orderRequest struct {
	Order string        `json:"order"`
	Goods []goodRequest `json:"goods"`
}

type goodRequest struct {
	Description string          `json:"description"`
	Price       json.RawMessage `json:"price"` // a JSON number, read exactly
}

type orderResponse struct {
	Order   string         `json:"order"`
	Status  string         `json:"status"`
	Accrual *points.Amount `json:"accrual,omitempty"`
}

type handlers struct {
	svc  *Service
	gate *Gate
	log  *slog.Logger
}

// NewRoutes returns the accrual API: POST /api/goods, POST /api/orders and GET /api/orders/{number}.
// The error table holds only this package's sentinels, so that it cannot change how another
// module's errors are answered on a shared server.
func NewRoutes(svc *Service, gate *Gate, log *slog.Logger) web.Routes {
	h := &handlers{svc: svc, gate: gate, log: log}
	return web.Routes{
		Public: func(r fiber.Router) {
			r.Post("/api/goods", h.registerMechanic)
			r.Post("/api/orders", h.registerOrder)
			r.Get("/api/orders/:number", h.order)
		},
		Errors: []web.ErrorStatus{
			{Err: ErrMatchExists, Status: fiber.StatusConflict},
			{Err: ErrOrderExists, Status: fiber.StatusConflict},
		},
	}
}

// registerMechanic: 200; 400 bad body, empty match, reward <= 0, unknown reward_type; 409 match taken.
func (h *handlers) registerMechanic(c *fiber.Ctx) error {
	var req mechanicRequest
	if err := web.DecodeJSON(c, &req); err != nil {
		return err
	}
	reward, err := parseNumber("reward", req.Reward)
	if err != nil {
		return badRequest(err)
	}
	m, err := NewMechanic(req.Match, reward, req.RewardType)
	if err != nil {
		return badRequest(err)
	}
	if err := h.svc.RegisterMechanic(c.UserContext(), m); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusOK)
}

// registerOrder: 202; 400 bad body or order number; 409 already registered.
func (h *handlers) registerOrder(c *fiber.Ctx) error {
	var req orderRequest
	if err := web.DecodeJSON(c, &req); err != nil {
		return err
	}
	n, err := ordernum.Parse(req.Order)
	if err != nil {
		return fiber.NewError(fiber.StatusBadRequest, "order: must be a string of digits that passes the Luhn check")
	}
	goods := make([]Good, 0, len(req.Goods))
	for i, g := range req.Goods {
		field := fmt.Sprintf("goods[%d].", i)
		price, err := parseNumber("price", g.Price)
		if err != nil {
			return badRequest(err, field)
		}
		good, err := NewGood(g.Description, price)
		if err != nil {
			return badRequest(err, field)
		}
		goods = append(goods, good)
	}
	if err := h.svc.RegisterOrder(c.UserContext(), n, goods); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusAccepted)
}

// order: 200 {"order","status","accrual"?}; 204 unknown; 429 and 500 from the test knobs.
func (h *handlers) order(c *fiber.Ctx) error {
	start := time.Now().UTC()
	number := utils.CopyString(c.Params("number")) // kept in the request log after the handler returns
	if d := h.gate.Latency(); d > 0 {
		time.Sleep(d)
	}
	status := fiber.StatusOK
	var reply func() error
	switch h.gate.Admit() {
	case RateLimited:
		status = fiber.StatusTooManyRequests
		reply = func() error {
			c.Set(fiber.HeaderRetryAfter, strconv.Itoa(h.gate.RetryAfter()))
			c.Set(fiber.HeaderContentType, fiber.MIMETextPlainCharsetUTF8)
			return c.Status(status).SendString(fmt.Sprintf("No more than %d requests per minute allowed", h.gate.Limit()))
		}
	case Fail:
		status = fiber.StatusInternalServerError
		reply = func() error {
			return web.WriteProblem(c, status, "injected failure (ACCRUAL_FAIL_RATE)")
		}
	default:
		o, found, err := h.svc.Order(c.UserContext(), number)
		switch {
		case err != nil:
			status = fiber.StatusInternalServerError
			reply = func() error { return err }
		case !found:
			status = fiber.StatusNoContent
			reply = func() error { return c.SendStatus(status) }
		default:
			reply = func() error {
				return c.Status(status).JSON(orderResponse{Order: string(o.Number), Status: o.Status, Accrual: o.Accrual})
			}
		}
	}
	rec := RequestRecord{Order: number, Start: start, End: time.Now().UTC(), Status: status}
	if err := h.gate.Record(rec); err != nil {
		h.log.ErrorContext(c.UserContext(), "record request", "order", number, "err", err) // the answer still goes out
	}
	return reply()
}

// parseNumber reads a JSON number exactly; a string, null or a missing value is refused.
func parseNumber(field string, raw json.RawMessage) (decimal.Decimal, error) {
	if len(raw) == 0 {
		return decimal.Decimal{}, invalid(field, "is required")
	}
	if c := raw[0]; c != '-' && (c < '0' || c > '9') {
		return decimal.Decimal{}, invalid(field, "must be a JSON number")
	}
	return ParseDecimal(field, string(raw))
}

// badRequest turns an InputError into a 400 whose detail names the field (with prefix before it).
func badRequest(err error, prefix ...string) error {
	var ie *InputError
	if errors.As(err, &ie) {
		field := ie.Field
		if len(prefix) > 0 {
			field = prefix[0] + field
		}
		return fiber.NewError(fiber.StatusBadRequest, field+": "+ie.Reason)
	}
	return err
}
