-- The requests sent to the accrual system once its per-minute limit is known, shared by every
-- Gophermart instance on this database: an instance records a send here before making it, and only
-- while fewer than limit_per_minute were recorded in the last minute, so that all instances together
-- stay within the limit. Rows older than the window are deleted as new ones are recorded.

-- +goose Up
CREATE TABLE gm_accrual_sends (
    id      TEXT PRIMARY KEY,
    sent_at TIMESTAMP NOT NULL
);
CREATE INDEX gm_accrual_sends_sent_at ON gm_accrual_sends (sent_at);

-- +goose Down
DROP TABLE gm_accrual_sends;
