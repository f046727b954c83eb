package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/compress"
	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gophermart/gophermart/modules/platform/ordernum"
	"github.com/gophermart/gophermart/modules/platform/pprof"
)

// The floor is the load generator's third mode (-serve-floor ADDR): the least a server can do to
// answer gophermart's hot endpoints correctly, run as its own process like the real servers. It is
// a bare fiber v2 app on pgx (pgxpool, no ORM, pgx's default statement cache) that verifies the same
// HS256 tokens with golang-jwt and runs the same SQL as gophermart's handlers, with no middleware
// (no metrics, request ids, deadlines, inflation or recovery), no logging and no accrual worker. It
// reads gophermart's tables in the benchmark's database. A scenario's ratio to its floor is then the
// share of the achievable rate that gophermart reaches on this machine.
//
// Its environment: floorDSNEnv (the database), floorSecretEnv (the signing secret gophermart uses),
// floorConnsEnv (the pool size; gophermart's default is 20) and, when profiling, floorPprofEnv (a
// loopback address for net/http/pprof, served as gophermart serves it).
const (
	floorDSNEnv    = "FLOOR_DSN"
	floorSecretEnv = "FLOOR_JWT_SECRET"
	floorConnsEnv  = "FLOOR_MAX_CONNS"
	floorPprofEnv  = "FLOOR_PPROF_ADDRESS"
)

// floorIssuer is the iss claim gophermart puts in its tokens.
const floorIssuer = "gophermart"

// floorNotDue is the next_poll_at of the orders the floor inserts: the same columns and indexes as
// gophermart's insert are written, but gophermart's accrual worker never finds them due, so the
// floor's uploads leave no work behind.
var floorNotDue = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)

// floorServer holds the floor's pool and token parser.
type floorServer struct {
	pool   *pgxpool.Pool
	secret []byte
	parser *jwt.Parser
}

// serveFloor runs the floor on addr until SIGTERM or SIGINT.
func serveFloor(addr string) error {
	secret := os.Getenv(floorSecretEnv)
	if secret == "" {
		return errors.New(floorSecretEnv + " is not set")
	}
	pcfg, err := pgxpool.ParseConfig(os.Getenv(floorDSNEnv))
	if err != nil {
		return fmt.Errorf("%s: %w", floorDSNEnv, err)
	}
	pcfg.MaxConns = 20
	if v := os.Getenv(floorConnsEnv); v != "" {
		n, err := strconv.ParseInt(v, 10, 32)
		if err != nil || n < 1 {
			return fmt.Errorf("%s: want a positive integer, got %q", floorConnsEnv, v)
		}
		pcfg.MaxConns = int32(n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer pool.Close()
	if err := pool.Ping(ctx); err != nil {
		return fmt.Errorf("ping: %w", err)
	}
	prof := pprof.NewServer(pprof.Config{Address: os.Getenv(floorPprofEnv)}, slog.New(slog.DiscardHandler))
	if err := prof.Start(ctx); err != nil {
		return err
	}
	defer func() { _ = prof.Stop(context.Background()) }()
	return serveUntilSignal(newFloorServer(pool, secret).app(), addr)
}

// newFloorServer returns the floor on pool, verifying tokens signed with secret.
func newFloorServer(pool *pgxpool.Pool, secret string) *floorServer {
	return &floorServer{
		pool:   pool,
		secret: []byte(secret),
		parser: jwt.NewParser(
			jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
			jwt.WithExpirationRequired(),
			jwt.WithIssuedAt(),
			jwt.WithIssuer(floorIssuer),
			jwt.WithLeeway(30*time.Second),
		),
	}
}

// app is the floor's fiber app: the three endpoints, nothing else.
func (f *floorServer) app() *fiber.App {
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	app.Get("/api/user/balance", f.balance)
	app.Get("/api/user/orders", compress.New(compress.Config{Level: compress.LevelBestSpeed}), f.list)
	app.Post("/api/user/orders", f.upload)
	return app
}

// user verifies the bearer token as gophermart does (HS256 only, exp required, iat, iss, 30 s
// leeway, the subject a UUID) and returns its subject.
func (f *floorServer) user(c *fiber.Ctx) (string, bool) {
	scheme, token, ok := strings.Cut(c.Get(fiber.HeaderAuthorization), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	var claims jwt.RegisteredClaims
	if _, err := f.parser.ParseWithClaims(token, &claims, func(*jwt.Token) (any, error) { return f.secret, nil }); err != nil {
		return "", false
	}
	if _, err := uuid.Parse(claims.Subject); err != nil {
		return "", false
	}
	return claims.Subject, true
}

// floorAmount is an amount in hundredths of a point, printed as gophermart prints one: an exact
// JSON number without trailing zeros (729.98, 27.2, 5).
type floorAmount int64

// MarshalJSON implements json.Marshaler.
func (a floorAmount) MarshalJSON() ([]byte, error) {
	return appendAmount(nil, int64(a)), nil
}

// appendAmount appends v hundredths as an exact decimal without trailing zeros. Amounts are far
// from the int64 limits, so negating one cannot overflow.
func appendAmount(b []byte, v int64) []byte {
	if v < 0 {
		b = append(b, '-')
		v = -v
	}
	b = strconv.AppendInt(b, v/100, 10)
	switch frac := v % 100; {
	case frac == 0:
	case frac%10 == 0:
		b = append(b, '.', byte('0'+frac/10))
	default:
		b = append(b, '.', byte('0'+frac/10), byte('0'+frac%10))
	}
	return b
}

type floorBalance struct {
	Current   floorAmount `json:"current"`
	Withdrawn floorAmount `json:"withdrawn"`
}

// balance is GET /api/user/balance: one SELECT by primary key; no row is 0 / 0.
func (f *floorServer) balance(c *fiber.Ctx) error {
	userID, ok := f.user(c)
	if !ok {
		return c.SendStatus(fiber.StatusUnauthorized)
	}
	var b floorBalance
	err := f.pool.QueryRow(c.Context(), `SELECT current, withdrawn FROM gm_balances WHERE user_id = $1`, userID).
		Scan(&b.Current, &b.Withdrawn)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return c.SendStatus(fiber.StatusInternalServerError)
	}
	return c.JSON(b)
}

type floorOrder struct {
	Number     string       `json:"number"`
	Status     string       `json:"status"`
	Accrual    *floorAmount `json:"accrual,omitempty"`
	UploadedAt string       `json:"uploaded_at"`
}

// list is GET /api/user/orders: the user's orders, newest upload first, as JSON, gzipped for a
// client that accepts it; 204 when there are none.
func (f *floorServer) list(c *fiber.Ctx) error {
	userID, ok := f.user(c)
	if !ok {
		return c.SendStatus(fiber.StatusUnauthorized)
	}
	rows, err := f.pool.Query(c.Context(), `SELECT number, user_id, status, accrual, uploaded_at FROM gm_orders
		WHERE user_id = $1 ORDER BY uploaded_at DESC, number DESC`, userID)
	if err != nil {
		return c.SendStatus(fiber.StatusInternalServerError)
	}
	defer rows.Close()
	var out []floorOrder
	for rows.Next() {
		var (
			o        floorOrder
			owner    string
			accrual  *int64
			uploaded time.Time
		)
		if err := rows.Scan(&o.Number, &owner, &o.Status, &accrual, &uploaded); err != nil {
			return c.SendStatus(fiber.StatusInternalServerError)
		}
		if accrual != nil && o.Status == "PROCESSED" {
			a := floorAmount(*accrual)
			o.Accrual = &a
		}
		o.UploadedAt = uploaded.UTC().Format(time.RFC3339)
		out = append(out, o)
	}
	if rows.Err() != nil {
		return c.SendStatus(fiber.StatusInternalServerError)
	}
	if len(out) == 0 {
		return c.SendStatus(fiber.StatusNoContent)
	}
	return c.JSON(out)
}

// upload is POST /api/user/orders: the same INSERT … ON CONFLICT DO NOTHING as gophermart, then,
// for a number that exists already, the owner check (200 for the caller's own, 409 for another's).
func (f *floorServer) upload(c *fiber.Ctx) error {
	userID, ok := f.user(c)
	if !ok {
		return c.SendStatus(fiber.StatusUnauthorized)
	}
	text := strings.TrimSpace(string(c.Body()))
	if text == "" {
		return c.SendStatus(fiber.StatusBadRequest)
	}
	n, err := ordernum.Parse(text)
	if err != nil {
		return c.SendStatus(fiber.StatusUnprocessableEntity)
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	tag, err := f.pool.Exec(c.Context(), `INSERT INTO gm_orders
		(number, user_id, status, accrual, uploaded_at, next_poll_at, attempts, lease_owner, lease_until)
		VALUES ($1, $2, 'NEW', NULL, $3, $4, 0, NULL, NULL) ON CONFLICT (number) DO NOTHING`,
		string(n), userID, now, floorNotDue)
	if err != nil {
		return c.SendStatus(fiber.StatusInternalServerError)
	}
	if tag.RowsAffected() == 1 {
		return c.SendStatus(fiber.StatusAccepted)
	}
	var owner string
	if err := f.pool.QueryRow(c.Context(), `SELECT user_id FROM gm_orders WHERE number = $1`, string(n)).Scan(&owner); err != nil {
		return c.SendStatus(fiber.StatusInternalServerError)
	}
	if owner != userID {
		return c.SendStatus(fiber.StatusConflict)
	}
	return c.SendStatus(fiber.StatusOK)
}
