-- Gophermart schema. Money columns are BIGINT hundredths of a point (kopecks), never float.
-- Times are UTC. Every table has the gm_ prefix: the accrual service may share this database.

-- +goose Up
CREATE TABLE gm_users (
    id            TEXT PRIMARY KEY,           -- UUIDv7
    login         TEXT NOT NULL,              -- as registered
    login_key     TEXT NOT NULL,              -- lower-cased: logins are unique ignoring case
    password_hash TEXT NOT NULL,              -- argon2id, PHC string with its parameters
    created_at    TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX gm_users_login_key ON gm_users (login_key);

-- Service-wide values, e.g. the generated JWT secret shared by every instance.
CREATE TABLE gm_settings (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE gm_orders (
    number        TEXT PRIMARY KEY,           -- digits, kept as text; globally unique
    user_id       TEXT NOT NULL REFERENCES gm_users (id),
    status        TEXT NOT NULL,              -- NEW, PROCESSING, INVALID, PROCESSED
    accrual       BIGINT,                     -- hundredths, set when PROCESSED
    uploaded_at   TIMESTAMP NOT NULL,
    -- The accrual queue lives here: a non-final order is due at next_poll_at (NULL once final).
    next_poll_at  TIMESTAMP,
    attempts      BIGINT NOT NULL DEFAULT 0,  -- polls since the last status change
    lease_owner   TEXT,                       -- instance holding the order while it asks accrual
    lease_until   TIMESTAMP                   -- the lease expires then: a crashed holder loses it
);
CREATE INDEX gm_orders_user_uploaded ON gm_orders (user_id, uploaded_at, number);
CREATE INDEX gm_orders_due ON gm_orders (next_poll_at) WHERE next_poll_at IS NOT NULL;

CREATE TABLE gm_balances (
    user_id   TEXT PRIMARY KEY REFERENCES gm_users (id),
    current   BIGINT NOT NULL DEFAULT 0,
    withdrawn BIGINT NOT NULL DEFAULT 0,
    CHECK (current >= 0),
    CHECK (withdrawn >= 0)
);

-- One row per credited order: the primary key makes every credit happen at most once.
CREATE TABLE gm_credits (
    order_number TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES gm_users (id),
    amount       BIGINT NOT NULL,
    credited_at  TIMESTAMP NOT NULL
);
CREATE INDEX gm_credits_user ON gm_credits (user_id);

CREATE TABLE gm_withdrawals (
    order_number TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES gm_users (id),
    amount       BIGINT NOT NULL CHECK (amount > 0),
    processed_at TIMESTAMP NOT NULL
);
CREATE INDEX gm_withdrawals_user_processed ON gm_withdrawals (user_id, processed_at, order_number);

-- +goose Down
DROP TABLE gm_withdrawals;
DROP TABLE gm_credits;
DROP TABLE gm_balances;
DROP TABLE gm_orders;
DROP TABLE gm_settings;
DROP TABLE gm_users;
