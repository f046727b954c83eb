package db_test

import (
	"context"
	"database/sql"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gophermart/gophermart/modules/platform/db"
	"github.com/gophermart/gophermart/modules/platform/db/dbtest"
)

func TestRebind(t *testing.T) {
	assert.Equal(t, "SELECT 1", db.Rebind("SELECT 1"))
	assert.Equal(t, "SELECT a FROM t WHERE a = $1 AND b < $2 OR c = $3",
		db.Rebind("SELECT a FROM t WHERE a = ? AND b < ? OR c = ?"))
	assert.Equal(t, "VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)", db.Rebind("VALUES (?,?,?,?,?,?,?,?,?,?,?)"))
}

// TestQueryPath runs the raw path on both engines: placeholders in order (several, of mixed types),
// rows, no rows, and statements inside and outside a transaction.
func TestQueryPath(t *testing.T) {
	for _, engine := range dbtest.EngineNames(t) {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			d := dbtest.Migrated(t, dbtest.Open(t, engine))
			dbtest.CreateUser(t, d, "u1")
			at := time.Date(2024, 5, 6, 7, 8, 9, 123456000, time.UTC)

			res, err := d.Exec(ctx, `INSERT INTO gm_balances (user_id, current, withdrawn) VALUES (?, ?, ?)`, "u1", int64(500), int64(7))
			require.NoError(t, err)
			n, err := res.RowsAffected()
			require.NoError(t, err)
			assert.EqualValues(t, 1, n)

			var cur, wd int64
			require.NoError(t, d.QueryRow(ctx, `SELECT current, withdrawn FROM gm_balances WHERE user_id = ? AND current > ?`,
				"u1", int64(10)).Scan(&cur, &wd))
			assert.Equal(t, [2]int64{500, 7}, [2]int64{cur, wd})
			err = d.QueryRow(ctx, `SELECT current FROM gm_balances WHERE user_id = ?`, "nobody").Scan(&cur)
			require.ErrorIs(t, err, sql.ErrNoRows)

			for i, num := range []string{"1", "2", "3"} {
				_, err := d.Exec(ctx, `INSERT INTO gm_withdrawals (order_number, user_id, amount, processed_at) VALUES (?, ?, ?, ?)`,
					num, "u1", int64(i+1), at.Add(time.Duration(i)*time.Microsecond))
				require.NoError(t, err)
			}
			rows, err := d.Query(ctx, `SELECT order_number, amount, processed_at FROM gm_withdrawals
				WHERE user_id = ? AND processed_at <= ? ORDER BY processed_at DESC LIMIT ?`, "u1", at.Add(time.Microsecond), 5)
			require.NoError(t, err)
			defer func() { _ = rows.Close() }()
			var got []string
			var times []time.Time
			for rows.Next() {
				var num string
				var amount int64
				var ts time.Time
				require.NoError(t, rows.Scan(&num, &amount, &ts))
				got = append(got, num)
				times = append(times, ts.UTC())
			}
			require.NoError(t, rows.Err())
			assert.Equal(t, []string{"2", "1"}, got)
			assert.Equal(t, []time.Time{at.Add(time.Microsecond), at}, times)

			// In a transaction the raw path and gorm see the same uncommitted writes, and a rollback
			// undoes the raw path's writes too.
			errRollback := errors.New("roll back")
			err = d.InTx(ctx, func(ctx context.Context) error {
				if _, err := d.Exec(ctx, `UPDATE gm_balances SET current = current + ? WHERE user_id = ?`, int64(1), "u1"); err != nil {
					return err
				}
				var inTx int64
				if err := d.QueryRow(ctx, `SELECT current FROM gm_balances WHERE user_id = ?`, "u1").Scan(&inTx); err != nil {
					return err
				}
				assert.EqualValues(t, 501, inTx)
				var viaGorm int64
				require.NoError(t, d.Conn(ctx).Raw(`SELECT current FROM gm_balances WHERE user_id = ?`, "u1").Scan(&viaGorm).Error)
				assert.EqualValues(t, 501, viaGorm)
				return errRollback
			})
			require.ErrorIs(t, err, errRollback)
			require.NoError(t, d.QueryRow(ctx, `SELECT current FROM gm_balances WHERE user_id = ?`, "u1").Scan(&cur))
			assert.EqualValues(t, 500, cur, "the rollback undid the raw path's update")

			require.NoError(t, d.InTx(ctx, func(ctx context.Context) error {
				_, err := d.Exec(ctx, `UPDATE gm_balances SET current = current + ? WHERE user_id = ?`, int64(2), "u1")
				return err
			}))
			require.NoError(t, d.QueryRow(ctx, `SELECT current FROM gm_balances WHERE user_id = ?`, "u1").Scan(&cur))
			assert.EqualValues(t, 502, cur, "the commit kept the raw path's update")
		})
	}
}
