package auth

import "time"

// Config is the auth module's part of the configuration.
type Config struct {
	// JWTSecret signs tokens (HS256). Empty: one is generated once and kept in the database.
	JWTSecret string `mapstructure:"jwt_secret"`
	// TokenTTL is how long a token stays valid.
	TokenTTL time.Duration `mapstructure:"token_ttl"`
	// CookieSecure marks the auth cookie Secure (HTTPS only).
	CookieSecure bool `mapstructure:"cookie_secure"`
	// CookieSameSite is Strict, Lax or None.
	CookieSameSite string `mapstructure:"cookie_samesite"`
	// HashConcurrency caps concurrent argon2id computations (each takes 7 MiB); 0 means the CPU count.
	HashConcurrency int `mapstructure:"hash_concurrency"`
	// LoginMaxFailures is how many failed logins for one login from one client address are allowed
	// within LoginWindow before further attempts get 429.
	LoginMaxFailures int `mapstructure:"login_max_failures"`
	// LoginWindow is the window over which failures count, and the longest lock-out.
	LoginWindow time.Duration `mapstructure:"login_window"`
}
