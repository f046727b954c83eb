-- Each user's pending (NEW or PROCESSING) orders, for the per-user cap an upload checks: counting
-- them reads at most the cap's worth of index entries, however many final orders the user has. The
-- statuses are literals, and the store's count spells them the same way, so that both engines see
-- that the query's condition implies the index's.

-- +goose Up
CREATE INDEX gm_orders_user_pending ON gm_orders (user_id) WHERE status IN ('NEW', 'PROCESSING');

-- +goose Down
DROP INDEX gm_orders_user_pending;
