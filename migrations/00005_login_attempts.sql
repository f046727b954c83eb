-- Login attempts, counted in the database so that every Gophermart instance on it throttles failed
-- logins together: N instances must not give a guesser N times the attempts. Attempts are counted
-- per (login key, client address), the address being an IPv4 address or an IPv6 /64, so that
-- failures from one address never lock the account's owner out at another.

-- +goose Up
-- One row per pair seen lately. Its row lock serialises the admission of the pair's attempts across
-- instances; touched_at (the pair's latest attempt) lets idle pairs be pruned.
CREATE TABLE gm_login_pairs (
    login_key  TEXT NOT NULL,                 -- lower-cased login
    address    TEXT NOT NULL,                 -- client address, or IPv6 /64
    touched_at TIMESTAMP NOT NULL,
    PRIMARY KEY (login_key, address)
);
CREATE INDEX gm_login_pairs_touched ON gm_login_pairs (touched_at);

-- One row per attempt that still counts: in flight (failed_at NULL) or failed within the window.
-- A successful login deletes its pair's failures; old rows are pruned.
CREATE TABLE gm_login_attempts (
    id         TEXT PRIMARY KEY,              -- UUIDv7
    login_key  TEXT NOT NULL,
    address    TEXT NOT NULL,
    started_at TIMESTAMP NOT NULL,
    failed_at  TIMESTAMP
);
CREATE INDEX gm_login_attempts_pair ON gm_login_attempts (login_key, address);
CREATE INDEX gm_login_attempts_started ON gm_login_attempts (started_at);

-- +goose Down
DROP TABLE gm_login_attempts;
DROP TABLE gm_login_pairs;
