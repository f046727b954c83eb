package settings_test

import (
	"testing"
	"time"

	"github.com/spf13/pflag"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gophermart/gophermart/modules/platform/settings"
)

var table = settings.Table{
	{Key: "addr", Flag: "addr", Short: "a", Env: "ST_ADDR", Default: "localhost:1", Usage: "address"},
	{Key: "n", Flag: "n", Env: "ST_N", Default: 3, Usage: "count"},
	{Key: "on", Flag: "on", Env: "ST_ON", Default: false, Usage: "switch"},
	{Key: "rate", Flag: "rate", Env: "ST_RATE", Default: 0.5, Usage: "fraction"},
	{Key: "wait", Flag: "wait", Env: "ST_WAIT", Default: time.Second, Usage: "delay"},
}

func viperFor(t *testing.T, env map[string]string, args ...string) ([]string, func(string) any) {
	t.Helper()
	for _, s := range table {
		t.Setenv(s.Env, env[s.Env])
	}
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	table.AddFlags(fs)
	require.NoError(t, fs.Parse(args))
	v, err := table.Viper(fs)
	require.NoError(t, err)
	problems := table.CheckTypes(v)
	return problems, v.Get
}

func TestPrecedenceAndTypes(t *testing.T) {
	problems, get := viperFor(t, map[string]string{"ST_ADDR": "env:2", "ST_N": "7"}, "-a", "flag:3")
	assert.Empty(t, problems)
	assert.Equal(t, "flag:3", get("addr"), "a given flag beats the environment")
	assert.Equal(t, "7", get("n"), "an unchanged flag never hides the environment")
	assert.Equal(t, time.Second, get("wait"), "the default when nothing is given")

	problems, get = viperFor(t, map[string]string{"ST_N": "many", "ST_ON": "maybe", "ST_RATE": "half", "ST_WAIT": "soon"})
	assert.Equal(t, []string{
		`ST_N (--n): cannot parse "many" as an integer`,
		`ST_ON (--on): cannot parse "maybe" as true or false`,
		`ST_RATE (--rate): cannot parse "half" as a number`,
		`ST_WAIT (--wait): cannot parse "soon" as a duration such as 100ms`,
	}, problems)
	assert.Equal(t, 3, get("n"), "an unparseable value falls back to its default")
}

func TestNames(t *testing.T) {
	assert.Equal(t, "ST_ADDR (-a)", table.Name("addr"))
	assert.Equal(t, "ST_WAIT (--wait)", table.Name("wait"))
	assert.Equal(t, "unknown", table.Name("unknown"))
}

func TestCheckAddress(t *testing.T) {
	for _, ok := range []string{"localhost:8080", "127.0.0.1:0", ":9", "[::1]:80"} {
		require.NoError(t, settings.CheckAddress(ok), ok)
	}
	for _, bad := range []string{"localhost", "host:http99", "host:70000", "a b:1", ""} {
		assert.Error(t, settings.CheckAddress(bad), bad)
	}
}

func TestCheckLoopbackAddress(t *testing.T) {
	for _, ok := range []string{"127.0.0.1:0", "127.1.2.3:8081", "[::1]:0", "localhost:8081", "LOCALHOST:1"} {
		require.NoError(t, settings.CheckLoopbackAddress(ok), ok)
	}
	bad := []string{
		":0", "0.0.0.0:8081", "[::]:8081", "192.168.1.10:8081", "8.8.8.8:80",
		"example.com:80", "localhost.example.com:1", "127.0.0.1", "127.0.0.1:99999", "[::ffff:8.8.8.8]:1",
	}
	for _, bad := range bad {
		assert.Error(t, settings.CheckLoopbackAddress(bad), bad)
	}
}

func TestUnknownKeys(t *testing.T) {
	tests := []struct {
		name string
		keys []string
		want []string
	}{
		{name: "all known", keys: []string{"addr", "wait"}},
		{name: "misspelt", keys: []string{"adr", "n"}, want: []string{"unknown key adr (did you mean addr?)"}},
		{name: "far from any", keys: []string{"colour.scheme"}, want: []string{"unknown key colour.scheme"}},
		{name: "sorted", keys: []string{"zz", "waitt"}, want: []string{"unknown key waitt (did you mean wait?)", "unknown key zz"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, table.UnknownKeys(tt.keys))
		})
	}
}

func TestOnly(t *testing.T) {
	got := table.Only("wait", "addr")
	require.Len(t, got, 2)
	assert.Equal(t, "addr", got[0].Key, "in the table's order")
	assert.Equal(t, "wait", got[1].Key)
	assert.Panics(t, func() { table.Only("missing") })
}
