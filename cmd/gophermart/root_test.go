package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gophermart/gophermart/config"
	"github.com/gophermart/gophermart/modules/platform/buildinfo"
	"github.com/gophermart/gophermart/modules/platform/exitcode"
)

// helpFlags runs `gophermart ARGS... --help` and returns the long flags its help lists.
func helpFlags(t *testing.T, args ...string) []string {
	t.Helper()
	cmd := newRootCmd()
	var out strings.Builder
	cmd.SetOut(&out)
	cmd.SetArgs(append(args, "--help"))
	require.NoError(t, cmd.Execute())
	_, flags, ok := strings.Cut(out.String(), "\nFlags:\n")
	require.True(t, ok, "a Flags section in:\n%s", out.String())
	flags, _, _ = strings.Cut(flags, "\n\n")
	var names []string
	for _, m := range regexp.MustCompile(`(?m)^\s+(?:-\w, )?--([\w-]+)`).FindAllStringSubmatch(flags, -1) {
		names = append(names, m[1])
	}
	return names
}

// Each command's --help lists exactly the flags it takes: the server's settings where it serves,
// the database's and logging's where it only works on the database.
func TestEachCommandListsOnlyItsFlags(t *testing.T) {
	server := []string{}
	for _, s := range config.Settings {
		server = append(server, s.Flag)
	}
	server = append(server, "config", "help")
	database := []string{"database-uri", "db-max-conns", "log-level", "log-format", "config", "help"}
	tests := []struct {
		args []string
		want []string
	}{
		{args: nil, want: append(append([]string{}, server...), "version")},
		{args: []string{"serve"}, want: server},
		{args: []string{"migrate"}, want: database},
		{args: []string{"resync"}, want: database},
		{args: []string{"ledger", "check"}, want: database},
		{args: []string{"ledger"}, want: []string{"help"}},
		{args: []string{"version"}, want: []string{"help"}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(append([]string{"gophermart"}, tt.args...), " "), func(t *testing.T) {
			assert.Equal(t, tt.want, helpFlags(t, tt.args...))
		})
	}
}

// A server flag given to a database command is a usage error, not silently ignored.
func TestDatabaseCommandRefusesServerFlags(t *testing.T) {
	cmd := newRootCmd()
	cmd.SetOut(&strings.Builder{})
	cmd.SetErr(&strings.Builder{})
	cmd.SetArgs([]string{"migrate", "status", "-a", "localhost:1"})
	err := cmd.Execute()
	require.ErrorIs(t, err, errUsage)
	assert.Contains(t, err.Error(), "unknown shorthand flag: 'a'")
}

func TestVersion(t *testing.T) {
	want := "gophermart " + buildinfo.Read().String() + "\n"
	for _, args := range [][]string{{"--version"}, {"version"}} {
		cmd := newRootCmd()
		var out strings.Builder
		cmd.SetOut(&out)
		cmd.SetArgs(args)
		require.NoError(t, cmd.Execute())
		assert.Equal(t, want, out.String(), args)
	}
	assert.Contains(t, want, "go1.", "names the Go version")
}

// Every command that reads the config file refuses a key it does not know, naming it, with exit
// code 2, before it touches anything.
func TestEveryCommandRefusesUnknownConfigKeys(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "gm.yaml")
	require.NoError(t, os.WriteFile(file, []byte("db:\n  urii: sqlite://x.db\n"), 0o600))
	for _, args := range [][]string{{}, {"serve"}, {"migrate"}, {"migrate", "status"}, {"migrate", "down"}, {"resync"}, {"ledger", "check"}} {
		cmd := newRootCmd()
		cmd.SetOut(&strings.Builder{})
		cmd.SetArgs(append(args, "--config", file))
		err := cmd.Execute()
		require.ErrorIs(t, err, config.ErrInvalid, "%v", args)
		msg, code := failure(err)
		assert.Equal(t, exitcode.Usage, code, "%v", args)
		assert.Equal(t, "invalid configuration: config file "+file+": unknown key db.urii (did you mean db.uri?)", msg, "%v", args)
	}
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, entries, 1, "only the config file")
}
