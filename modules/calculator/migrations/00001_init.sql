-- Accrual service schema. Every table has the acc_ prefix: the service may share Gophermart's database.
-- Prices and rewards are exact decimal strings (as sent, e.g. '147.5', '12.5'), never float; the
-- accrual of a processed order is BIGINT hundredths of a point. Times are UTC.

-- +goose Up
-- Reward mechanics. A good earns from the first mechanic, in registration order (seq), whose match_text is
-- a substring of its description.
CREATE TABLE acc_goods (
    match_text  TEXT PRIMARY KEY,            -- the "match" of the API
    seq         TEXT NOT NULL,               -- UUIDv7: sorts in registration order
    reward      TEXT NOT NULL,               -- exact decimal, > 0
    reward_type TEXT NOT NULL,               -- '%' or 'pt'
    created_at  TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX acc_goods_seq ON acc_goods (seq);

CREATE TABLE acc_orders (
    number        TEXT PRIMARY KEY,          -- digits, Luhn-valid; the key makes registration happen once
    status        TEXT NOT NULL,             -- REGISTERED, PROCESSING, PROCESSED, INVALID
    goods         TEXT NOT NULL,             -- JSON array of {"description","price"}, prices as exact decimal strings
    accrual       BIGINT,                    -- hundredths; set when PROCESSED and some good matched
    registered_at TIMESTAMP NOT NULL,
    -- The processing queue: a non-final order takes its next step at next_step_at (NULL once final).
    next_step_at  TIMESTAMP,
    processed_at  TIMESTAMP
);
CREATE INDEX acc_orders_due ON acc_orders (next_step_at) WHERE next_step_at IS NOT NULL;

-- +goose Down
DROP TABLE acc_orders;
DROP TABLE acc_goods;
