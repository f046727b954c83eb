package db_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gophermart/gophermart/modules/platform/db"
)

func TestDescribe(t *testing.T) {
	wd, err := os.Getwd()
	require.NoError(t, err)
	tests := []struct {
		name, give, want string
	}{
		{name: "default file", give: "", want: "sqlite " + filepath.Join(wd, db.DefaultSQLitePath)},
		{name: "relative file", give: "sqlite://data/gm.db", want: "sqlite " + filepath.Join(wd, "data/gm.db")},
		{name: "absolute file with a query", give: "file:/srv/gm.db?_pragma=cache_size(1000)", want: "sqlite /srv/gm.db"},
		{name: "in memory", give: "file:x?mode=memory&cache=shared", want: "sqlite in memory"},
		{
			name: "postgres without its credentials or parameters",
			give: "postgres://gm:s3cret@db.internal:5432/gophermart?sslmode=disable&password=other",
			want: "postgres db.internal:5432/gophermart",
		},
		{name: "postgresql scheme, no port", give: "postgresql://u@localhost/test", want: "postgres localhost/test"},
		{name: "unix socket", give: "postgres:///gm?host=/var/run/postgresql", want: "postgres /var/run/postgresql/gm"},
		{name: "no host at all", give: "postgres:///gm", want: "postgres (default host)/gm"},
		{name: "unsupported", give: "mysql://u:p@h/db", want: "unsupported database URI"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := db.Describe(tt.give)
			assert.Equal(t, tt.want, got)
			assert.NotContains(t, got, "s3cret")
		})
	}
}
