//go:build !unix

package db

import "context"

// lockFile is a no-op where advisory file locks are unavailable: run one migrator at a time there.
func lockFile(context.Context, string) (func(), error) { return func() {}, nil }
