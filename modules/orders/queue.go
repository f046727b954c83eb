package orders

import (
	"context"
	"fmt"
	"time"

	"github.com/gophermart/gophermart/modules/platform/db"
	"github.com/gophermart/gophermart/modules/platform/ordernum"
	"github.com/gophermart/gophermart/modules/platform/points"
	"github.com/gophermart/gophermart/modules/platform/queue"
)

// Queue is the durable queue of pending orders that the accrual worker drains, kept in gm_orders
// itself: a pending (NEW or PROCESSING) order is due at next_poll_at, and while an instance asks
// about it, it holds a lease (lease_owner, lease_until). next_poll_at is NULL once the order is final.
//
// A claim moves next_poll_at to the lease's end, so an order whose holder crashed is simply due
// again when the lease expires, and "the earliest next_poll_at" is always when work is next due.
// Claims take rows with FOR UPDATE SKIP LOCKED on PostgreSQL, so concurrent instances never claim
// one order twice; on SQLite, where writers are serialised, the claim ranks the due orders as a read
// and leases them with an UPDATE that repeats the due check. Writes outside a transaction go through
// db.DB.Write (the SQLite write gate).
// Every method joins the transaction carried by ctx, if any. Safe for concurrent use.
type Queue struct {
	db  *db.DB
	now func() time.Time
}

// NewQueue returns the queue on d.
func NewQueue(d *db.DB) *Queue {
	return &Queue{db: d, now: time.Now}
}

// queueBatch bounds the numbers in one IN (...) list.
const queueBatch = 500

func (q *Queue) clock() time.Time { return queueTime(q.now()) }

// queueTime is how every time is stored: UTC, microseconds.
func queueTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// exec runs one write statement as a writer of the database (db.DB.Write: on SQLite it queues at
// the write gate) and returns the rows it changed.
func (q *Queue) exec(ctx context.Context, sql string, args ...any) (int64, error) {
	var rows int64
	err := q.db.Write(ctx, func(ctx context.Context) error {
		res := q.db.Conn(ctx).Exec(sql, args...)
		rows = res.RowsAffected
		return res.Error
	})
	return rows, err
}

// lockOwnerSQL locks the row of the user who owns an order, as an upload locks it.
const lockOwnerSQL = `SELECT u.id FROM gm_users u JOIN gm_orders o ON o.user_id = u.id
	WHERE o.number = ? FOR NO KEY UPDATE OF u`

// finish runs sql, a write that makes order n final, and returns the rows it changed. Making an order
// final changes its user's pending count (a trigger updates gm_users), so on PostgreSQL the user's
// row is locked first, in the same transaction: an upload holds that row while its insert may wait
// for the order's row (a number uploaded again), so taking the order's row first would let the two
// wait for each other. Users before orders, everywhere.
func (q *Queue) finish(ctx context.Context, n ordernum.Number, sql string, args ...any) (int64, error) {
	if q.db.Dialect() != db.Postgres { // one writer at a time: no lock order to keep
		return q.exec(ctx, sql, args...)
	}
	var rows int64
	err := q.db.InTx(ctx, func(ctx context.Context) error {
		var owners []string
		if err := q.db.Conn(ctx).Raw(lockOwnerSQL, string(n)).Scan(&owners).Error; err != nil {
			return fmt.Errorf("lock the owner of order %s: %w", n, err)
		}
		var err error
		rows, err = q.exec(ctx, sql, args...)
		return err
	})
	return rows, err
}

type claimRow struct {
	Number   string `gorm:"column:number"`
	UserID   string `gorm:"column:user_id"`
	Status   string `gorm:"column:status"`
	Attempts int64  `gorm:"column:attempts"`
}

// Claim leases up to limit due orders to owner for lease: an order is due when its next_poll_at has
// passed and nobody holds a live lease on it. Due orders are picked fairly:
//
//   - users take turns: every user's first order, then every user's second, and so on, so one
//     user's thousands of unanswered orders delay another user's order by one turn at most;
//   - a user's turns go first to their orders never asked about yet (NEW with no attempt), then to
//     their re-polls, earliest due first; within a turn, too, new orders come before re-polls, so
//     a user's first new upload is asked in the next claim whatever backlog waits.
//
// The orders of one claim come back in no particular order (a claim is a batch of at most twice
// the worker pool, started at once). The ranking reads the due rows through the partial index on
// next_poll_at and sorts them once per claim.
func (q *Queue) Claim(ctx context.Context, owner string, limit int, lease time.Duration) ([]queue.Job, error) {
	if limit <= 0 {
		return nil, nil
	}
	now := q.clock()
	until := queueTime(now.Add(lease))
	var rows []claimRow
	var err error
	if q.db.Dialect() == db.Postgres {
		rows, err = q.claimLocked(ctx, owner, limit, now, until)
	} else {
		rows, err = q.claimReadThenWrite(ctx, owner, limit, now, until)
	}
	if err != nil {
		return nil, fmt.Errorf("claim due orders: %w", err)
	}
	jobs := make([]queue.Job, len(rows))
	for i, r := range rows {
		jobs[i] = queue.Job{
			Number: ordernum.Number(r.Number), UserID: r.UserID,
			Processing: r.Status == StatusProcessing, Attempts: int(r.Attempts),
		}
	}
	return jobs, nil
}

// dueSQL is the condition of an order that may be claimed at a time given twice: due, pending, and
// under no live lease.
const dueSQL = `next_poll_at <= ? AND status IN ('` + StatusNew + `', '` + StatusProcessing + `') AND (lease_until IS NULL OR lease_until < ?)`

// rankSQL picks the numbers of up to a limit of due orders in Claim's fair order. Its arguments:
// the time twice (dueSQL), then the limit.
const rankSQL = `SELECT number FROM (
		SELECT number, next_poll_at, klass,
			ROW_NUMBER() OVER (PARTITION BY user_id ORDER BY klass, next_poll_at, number) AS turn
		FROM (
			SELECT number, user_id, next_poll_at,
				CASE WHEN status = '` + StatusNew + `' AND attempts = 0 THEN 0 ELSE 1 END AS klass
			FROM gm_orders
			WHERE ` + dueSQL + `
		) due
	) ranked
	ORDER BY turn, klass, next_poll_at, number LIMIT ?`

// claimReturning ends a claim's UPDATE.
const claimReturning = ` RETURNING number, user_id, status, attempts`

// claimLocked is Claim on PostgreSQL: one statement that ranks the due orders and leases those it
// can lock, skipping rows another claim holds locked (FOR UPDATE SKIP LOCKED); the due check is
// repeated on the locked row's latest version.
func (q *Queue) claimLocked(ctx context.Context, owner string, limit int, now, until time.Time) ([]claimRow, error) {
	var rows []claimRow
	err := q.db.Conn(ctx).Raw(`UPDATE gm_orders SET lease_owner = ?, lease_until = ?, next_poll_at = ?
		WHERE number IN (
			SELECT number FROM gm_orders
			WHERE number IN (`+rankSQL+`) AND `+dueSQL+` FOR UPDATE SKIP LOCKED)`+claimReturning,
		owner, until, until, now, now, limit, now, now).Scan(&rows).Error
	return rows, err
}

// claimReadThenWrite is Claim on SQLite, where a statement that writes holds the database's only
// write lock from its start: the ranking, which reads and sorts every due order, runs first as a
// plain read (WAL readers never wait for the writer), and only the lease itself is a write, a short
// UPDATE of the chosen numbers taken at the write gate. The UPDATE repeats the due check, so an
// order another claim leased in between is left out.
func (q *Queue) claimReadThenWrite(ctx context.Context, owner string, limit int, now, until time.Time) ([]claimRow, error) {
	var numbers []string
	if err := q.db.Conn(ctx).Raw(rankSQL, now, now, limit).Scan(&numbers).Error; err != nil {
		return nil, err
	}
	if len(numbers) == 0 {
		return nil, nil
	}
	var rows []claimRow
	err := q.db.Write(ctx, func(ctx context.Context) error {
		return q.db.Conn(ctx).Raw(`UPDATE gm_orders SET lease_owner = ?, lease_until = ?, next_poll_at = ?
			WHERE number IN ? AND `+dueSQL+claimReturning,
			owner, until, until, numbers, now, now).Scan(&rows).Error
	})
	return rows, err
}

// Requeue ends owner's lease on n and makes it due at at with the given attempt count; processing
// moves a NEW order to PROCESSING. It reports false, changing nothing, when owner no longer holds n
// or n is final.
func (q *Queue) Requeue(ctx context.Context, n ordernum.Number, owner string, processing bool, attempts int, at time.Time) (bool, error) {
	set := "attempts = ?, next_poll_at = ?, lease_owner = NULL, lease_until = NULL"
	args := []any{int64(attempts), queueTime(at)}
	if processing {
		set = "status = ?, " + set
		args = append([]any{StatusProcessing}, args...)
	}
	args = append(args, string(n), owner, StatusNew, StatusProcessing)
	rows, err := q.exec(ctx, "UPDATE gm_orders SET "+set+
		" WHERE number = ? AND lease_owner = ? AND status IN (?, ?)", args...)
	if err != nil {
		return false, fmt.Errorf("requeue order %s: %w", n, err)
	}
	return rows == 1, nil
}

// Renew extends owner's lease on n to lease from now, moving next_poll_at with it, but only while the
// lease is still owner's and has not expired: it reports false, changing nothing, otherwise (someone
// else may hold the order now, or it is due again). The accrual worker renews before a request that
// its lease might not outlast, so a request bounded by a timeout shorter than lease always ends
// inside the lease.
func (q *Queue) Renew(ctx context.Context, n ordernum.Number, owner string, lease time.Duration) (bool, error) {
	now := q.clock()
	until := queueTime(now.Add(lease))
	rows, err := q.exec(ctx, `UPDATE gm_orders SET lease_until = ?, next_poll_at = ?
		WHERE number = ? AND lease_owner = ? AND lease_until > ? AND status IN (?, ?)`,
		until, until, string(n), owner, now, StatusNew, StatusProcessing)
	if err != nil {
		return false, fmt.Errorf("renew lease on order %s: %w", n, err)
	}
	return rows == 1, nil
}

// Release ends owner's leases on the given orders and makes them due at at; it returns how many it
// released.
func (q *Queue) Release(ctx context.Context, owner string, numbers []ordernum.Number, at time.Time) (int64, error) {
	var total int64
	for len(numbers) > 0 {
		chunk := numbers[:min(len(numbers), queueBatch)]
		numbers = numbers[len(chunk):]
		rows, err := q.exec(ctx, `UPDATE gm_orders SET next_poll_at = ?, lease_owner = NULL, lease_until = NULL
			WHERE lease_owner = ? AND number IN ? AND status IN (?, ?)`,
			queueTime(at), owner, queueStrings(chunk), StatusNew, StatusProcessing)
		if err != nil {
			return total, fmt.Errorf("release leases: %w", err)
		}
		total += rows
	}
	return total, nil
}

// MarkInvalid makes n INVALID, a final status. It reports false when n was final already.
func (q *Queue) MarkInvalid(ctx context.Context, n ordernum.Number) (bool, error) {
	rows, err := q.finish(ctx, n, `UPDATE gm_orders SET status = ?, accrual = NULL, next_poll_at = NULL,
		lease_owner = NULL, lease_until = NULL WHERE number = ? AND status IN (?, ?)`,
		StatusInvalid, string(n), StatusNew, StatusProcessing)
	if err != nil {
		return false, fmt.Errorf("mark order %s invalid: %w", n, err)
	}
	return rows == 1, nil
}

// MarkProcessed makes n PROCESSED, a final status, with the accrual (nil: none). It reports false,
// changing nothing, when n was final already; the caller credits the owner, in the same
// transaction, only on true.
func (q *Queue) MarkProcessed(ctx context.Context, n ordernum.Number, accrual *points.Amount) (bool, error) {
	var amount *int64
	if accrual != nil {
		a := int64(*accrual)
		amount = &a
	}
	rows, err := q.finish(ctx, n, `UPDATE gm_orders SET status = ?, accrual = ?, next_poll_at = NULL,
		lease_owner = NULL, lease_until = NULL WHERE number = ? AND status IN (?, ?)`,
		StatusProcessed, amount, string(n), StatusNew, StatusProcessing)
	if err != nil {
		return false, fmt.Errorf("mark order %s processed: %w", n, err)
	}
	return rows == 1, nil
}

// NextDue returns when the earliest pending order is due; false when no order is pending.
func (q *Queue) NextDue(ctx context.Context) (time.Time, bool, error) {
	var rows []struct {
		NextPollAt time.Time `gorm:"column:next_poll_at"`
	}
	err := q.db.Conn(ctx).Raw(`SELECT next_poll_at FROM gm_orders WHERE next_poll_at IS NOT NULL
		ORDER BY next_poll_at LIMIT 1`).Scan(&rows).Error
	if err != nil {
		return time.Time{}, false, fmt.Errorf("read next due order: %w", err)
	}
	if len(rows) == 0 {
		return time.Time{}, false, nil
	}
	return rows[0].NextPollAt.UTC(), true, nil
}

// Pending counts the orders not final yet (NEW or PROCESSING): the queue's length. It reads the
// partial index on next_poll_at, so it stays cheap with millions of final orders.
func (q *Queue) Pending(ctx context.Context) (int64, error) {
	var n int64
	if err := q.db.Conn(ctx).Raw(`SELECT count(*) FROM gm_orders WHERE next_poll_at IS NOT NULL`).Scan(&n).Error; err != nil {
		return 0, fmt.Errorf("count pending orders: %w", err)
	}
	return n, nil
}

// ResyncResult tells what Resync did.
type ResyncResult struct {
	// Due is how many pending orders were made due now.
	Due int64
	// InFlight is how many pending orders were left alone because an instance holds a live lease on
	// them: it is asking about them right now.
	InFlight int64
	// Skipped is how many of the given numbers are unknown or final.
	Skipped int64
}

// Resync makes pending orders due now with a fresh attempt count (all of them when numbers is
// empty, else only those given), e.g. after an accrual outage. Orders under a live lease are left to
// their holder, so that no order is ever asked about by two instances at once.
func (q *Queue) Resync(ctx context.Context, numbers []ordernum.Number) (ResyncResult, error) {
	var r ResyncResult
	err := q.db.InTx(ctx, func(ctx context.Context) error {
		now := q.clock()
		if len(numbers) == 0 {
			var pending int64
			if err := q.db.Conn(ctx).Raw("SELECT count(*) FROM gm_orders WHERE status IN (?, ?)",
				StatusNew, StatusProcessing).Scan(&pending).Error; err != nil {
				return err
			}
			res := q.db.Conn(ctx).Exec(`UPDATE gm_orders SET next_poll_at = ?, attempts = 0, lease_owner = NULL,
				lease_until = NULL WHERE status IN (?, ?) AND (lease_until IS NULL OR lease_until < ?)`,
				now, StatusNew, StatusProcessing, now)
			if res.Error != nil {
				return res.Error
			}
			r.Due, r.InFlight = res.RowsAffected, pending-res.RowsAffected
			return nil
		}
		uniq := queueDedupe(numbers)
		var pending int64
		for rest := uniq; len(rest) > 0; {
			chunk := rest[:min(len(rest), queueBatch)]
			rest = rest[len(chunk):]
			var c int64
			if err := q.db.Conn(ctx).Raw("SELECT count(*) FROM gm_orders WHERE number IN ? AND status IN (?, ?)",
				chunk, StatusNew, StatusProcessing).Scan(&c).Error; err != nil {
				return err
			}
			pending += c
			res := q.db.Conn(ctx).Exec(`UPDATE gm_orders SET next_poll_at = ?, attempts = 0, lease_owner = NULL,
				lease_until = NULL WHERE number IN ? AND status IN (?, ?) AND (lease_until IS NULL OR lease_until < ?)`,
				now, chunk, StatusNew, StatusProcessing, now)
			if res.Error != nil {
				return res.Error
			}
			r.Due += res.RowsAffected
		}
		r.InFlight = pending - r.Due
		r.Skipped = int64(len(uniq)) - pending
		return nil
	})
	if err != nil {
		return ResyncResult{}, fmt.Errorf("resync orders: %w", err)
	}
	return r, nil
}

func queueStrings(ns []ordernum.Number) []string {
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = string(n)
	}
	return out
}

func queueDedupe(ns []ordernum.Number) []string {
	seen := make(map[ordernum.Number]bool, len(ns))
	out := make([]string, 0, len(ns))
	for _, n := range ns {
		if !seen[n] {
			seen[n] = true
			out = append(out, string(n))
		}
	}
	return out
}
