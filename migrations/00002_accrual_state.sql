-- The accrual system's rate limit as last learned, shared by every Gophermart instance on this
-- database: after a 429 nobody asks the accrual system anything before pause_until, and every
-- instance paces itself to limit_per_minute requests (0: unknown).

-- +goose Up
CREATE TABLE gm_accrual_state (
    name             TEXT PRIMARY KEY,
    pause_until      TIMESTAMP,
    limit_per_minute BIGINT NOT NULL DEFAULT 0
);
INSERT INTO gm_accrual_state (name, pause_until, limit_per_minute) VALUES ('accrual', NULL, 0);

-- +goose Down
DROP TABLE gm_accrual_state;
