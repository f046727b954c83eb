package calculator

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gophermart/gophermart/modules/platform/db"
	"github.com/gophermart/gophermart/modules/platform/db/dbtest"
	"github.com/gophermart/gophermart/modules/platform/ordernum"
)

// TestInMemoryDefault checks the standalone default: every pooled connection sees one private memory
// database, concurrent writers wait for each other instead of failing, and closing frees it all.
func TestInMemoryDefault(t *testing.T) {
	ctx := context.Background()
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp) // os.TempDir: this test sees only its own directories
	d, closeDB, err := OpenDB("")
	require.NoError(t, err)
	assert.Equal(t, db.SQLite, d.Dialect())
	require.NoError(t, Migrate(ctx, d, nil))
	other, closeOther, err := OpenDB("")
	require.NoError(t, err)
	require.NoError(t, Migrate(ctx, other, nil))

	s := NewStore(d)
	p := NewProcessor(Config{}, s, discardLog())
	svc := NewService(s, p)
	var wg sync.WaitGroup
	errs := make(chan error, 8*12*4) // room for every result: no sender ever blocks
	for g := range 8 {
		wg.Go(func() {
			for i := range 12 {
				n := luhn(fmt.Sprintf("8%02d%04d", g, i))
				errs <- svc.RegisterOrder(ctx, ordernum.Number(n), []Good{{Description: "x", Price: dec("1")}})
				errs <- s.AddMechanic(ctx, Mechanic{Match: n, Reward: dec("1"), RewardType: RewardPoints})
				if _, _, err := s.Order(ctx, n); err != nil {
					errs <- err
				}
				_, _, err := p.RunOnce(ctx)
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	assert.Greater(t, d.SQL().Stats().OpenConnections, 1, "the pool really has several connections")
	var count int64
	require.NoError(t, d.Conn(ctx).Raw("SELECT count(*) FROM acc_orders").Scan(&count).Error)
	assert.Equal(t, int64(96), count)
	mechanics, err := s.Mechanics(ctx)
	require.NoError(t, err)
	assert.Len(t, mechanics, 96)

	// Each in-memory database is private.
	require.NoError(t, other.Conn(ctx).Raw("SELECT count(*) FROM acc_orders").Scan(&count).Error)
	assert.Equal(t, int64(0), count)

	// Idle connections may come and go; the database stays while it is open.
	d.SQL().SetMaxIdleConns(0)
	require.NoError(t, d.Conn(ctx).Raw("SELECT count(*) FROM acc_orders").Scan(&count).Error)
	assert.Equal(t, int64(96), count)

	// Nothing but the migration lock file is on disk: the data lives in memory.
	dirs, err := filepath.Glob(filepath.Join(tmp, "accrual-memdb-*"))
	require.NoError(t, err)
	require.Len(t, dirs, 2)
	for _, dir := range dirs {
		entries, err := os.ReadDir(dir)
		require.NoError(t, err)
		for _, e := range entries {
			assert.True(t, strings.HasSuffix(e.Name(), ".lock"), "unexpected file %s", e.Name())
		}
	}
	require.NoError(t, closeDB())
	require.NoError(t, closeOther())
	dirs, err = filepath.Glob(filepath.Join(tmp, "accrual-memdb-*"))
	require.NoError(t, err)
	assert.Empty(t, dirs, "closing removes the directories")
}

func TestOpenDBURI(t *testing.T) {
	path := filepath.Join(t.TempDir(), "acc.db")
	d, closeDB, err := OpenDB("sqlite://" + path)
	require.NoError(t, err)
	require.NoError(t, Migrate(context.Background(), d, nil))
	require.NoError(t, closeDB())
	_, err = os.Stat(path)
	require.NoError(t, err, "a file database is a real file")

	_, _, err = OpenDB("mysql://x")
	require.ErrorIs(t, err, db.ErrBadURI)
}

// TestSharedDatabase migrates the accrual schema into a database that holds Gophermart's: both
// schemas live side by side, each with its own goose table, and re-running is a no-op.
func TestSharedDatabase(t *testing.T) {
	for name, open := range dbtest.Engines(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			d := open(t)
			require.NoError(t, Migrate(ctx, d, nil))
			require.NoError(t, Migrate(ctx, d, nil))
			m, err := db.NewMigrator(d, Migrations, nil)
			require.NoError(t, err)
			st, err := m.Status(ctx)
			require.NoError(t, err)
			require.NotEmpty(t, st)
			for _, s := range st {
				assert.True(t, s.Applied, s.Source)
			}
			for _, table := range []string{"acc_goods", "acc_orders", "acc_goose_db_version", "gm_orders", "gm_goose_db_version"} {
				var n int64
				require.NoError(t, d.Conn(ctx).Raw("SELECT count(*) FROM "+table).Scan(&n).Error, table)
			}
			var versions []int64
			require.NoError(t, d.Conn(ctx).Raw("SELECT version_id FROM acc_goose_db_version WHERE version_id > 0").Scan(&versions).Error)
			assert.Equal(t, []int64{1}, versions)

			// Down removes only the accrual tables.
			require.NoError(t, m.DownTo(ctx, 0))
			var n int64
			require.NoError(t, d.Conn(ctx).Raw("SELECT count(*) FROM gm_orders").Scan(&n).Error)
			err = d.Conn(ctx).Raw("SELECT count(*) FROM acc_orders").Scan(&n).Error
			require.ErrorContains(t, err, "acc_orders")
			require.NoError(t, Migrate(ctx, d, nil))
		})
	}
}
