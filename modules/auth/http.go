package auth

import (
	"errors"
	"net"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/gophermart/gophermart/modules/platform/web"
)

// busyRetryAfter is the Retry-After, in seconds, of a 503 for hashing slots that stayed busy.
const busyRetryAfter = "1"

// credentials is the body of register and login. Pointers tell a missing field from an empty one.
type credentials struct {
	Login    *string `json:"login"`
	Password *string `json:"password"`
}

type handlers struct {
	svc          *Service
	ttl          int // cookie Max-Age, seconds
	cookieSecure bool
	sameSite     string
}

// NewRoutes returns the public routes POST /api/user/register and POST /api/user/login, and the
// status of each auth error.
func NewRoutes(cfg Config, svc *Service, tokens *Tokens) web.Routes {
	sameSite := cfg.CookieSameSite
	if sameSite == "" {
		sameSite = fiber.CookieSameSiteLaxMode
	}
	h := &handlers{svc: svc, ttl: int(tokens.TTL().Seconds()), cookieSecure: cfg.CookieSecure, sameSite: sameSite}
	return web.Routes{
		Public: func(r fiber.Router) {
			r.Post("/api/user/register", h.register)
			r.Post("/api/user/login", h.login)
		},
		Errors: []web.ErrorStatus{
			{Err: ErrLoginEmpty, Status: fiber.StatusBadRequest},
			{Err: ErrLoginTooLong, Status: fiber.StatusBadRequest},
			{Err: ErrLoginChars, Status: fiber.StatusBadRequest},
			{Err: ErrPasswordTooShort, Status: fiber.StatusBadRequest},
			{Err: ErrPasswordTooLong, Status: fiber.StatusBadRequest},
			{Err: ErrLoginTaken, Status: fiber.StatusConflict},
			{Err: ErrBadCredentials, Status: fiber.StatusUnauthorized},
			{Err: ErrTooManyAttempts, Status: fiber.StatusTooManyRequests},
			{Err: ErrBusy, Status: fiber.StatusServiceUnavailable},
		},
	}
}

func (h *handlers) register(c *fiber.Ctx) error {
	login, password, err := decodeCredentials(c)
	if err != nil {
		return err
	}
	s, err := h.svc.Register(c.UserContext(), login, password)
	if err != nil {
		return h.fail(c, err)
	}
	return h.ok(c, s)
}

func (h *handlers) login(c *fiber.Ctx) error {
	login, password, err := decodeCredentials(c)
	if err != nil {
		return err
	}
	s, err := h.svc.Login(c.UserContext(), login, password, clientNetwork(c.IP()))
	if err != nil {
		return h.fail(c, err)
	}
	return h.ok(c, s)
}

// clientNetwork is the address that login failures are counted against: an IPv4 address as is, an
// IPv6 address as its /64, since one client usually holds a whole /64 and could otherwise rotate
// through it to guess without limit.
func clientNetwork(ip string) string {
	parsed := net.ParseIP(ip)
	if parsed == nil || parsed.To4() != nil {
		return ip
	}
	return parsed.Mask(net.CIDRMask(64, 128)).String() + "/64"
}

// decodeCredentials reads {"login","password"}; a field that is missing or null is a bad body.
func decodeCredentials(c *fiber.Ctx) (login, password string, err error) {
	var body credentials
	if err := web.DecodeJSON(c, &body); err != nil {
		return "", "", err
	}
	if body.Login == nil {
		return "", "", fiber.NewError(fiber.StatusBadRequest, `field "login" is required`)
	}
	if body.Password == nil {
		return "", "", fiber.NewError(fiber.StatusBadRequest, `field "password" is required`)
	}
	return *body.Login, *body.Password, nil
}

// ok answers 200, with an empty body, with the token in the Authorization header and in an HttpOnly cookie.
func (h *handlers) ok(c *fiber.Ctx, s Session) error {
	c.Set(fiber.HeaderAuthorization, "Bearer "+s.Token)
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Cookie(&fiber.Cookie{
		Name:     web.CookieName,
		Value:    s.Token,
		Path:     "/",
		MaxAge:   h.ttl,
		Expires:  s.ExpiresAt,
		Secure:   h.cookieSecure,
		HTTPOnly: true,
		SameSite: h.sameSite,
	})
	c.Status(fiber.StatusOK) // no body: the token is all there is to say
	return nil
}

// fail adds the Retry-After header that a 429 or 503 needs, then hands err to the error handler.
func (h *handlers) fail(c *fiber.Ctx, err error) error {
	var te *ThrottledError
	switch {
	case errors.As(err, &te):
		c.Set(fiber.HeaderRetryAfter, strconv.Itoa(te.RetryAfterSeconds()))
	case errors.Is(err, ErrBusy):
		c.Set(fiber.HeaderRetryAfter, busyRetryAfter)
	}
	return err
}
