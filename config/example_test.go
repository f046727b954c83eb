package config_test

import (
	"flag"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spf13/viper"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gophermart/gophermart/config"
)

var update = flag.Bool("update", false, "rewrite ../config.example.yaml from config.Settings")

const examplePath = "../config.example.yaml"

// exampleYAML renders every setting at its default, grouped by section in the order the table first
// names each section, each key under a comment giving its meaning, environment variable and flag.
func exampleYAML() string {
	var b strings.Builder
	b.WriteString(`# Every Gophermart setting, at its default. Copy this file, keep only what you change and pass
# it with --config FILE (or GOPHERMART_CONFIG=FILE). Precedence: flag > environment > this file >
# default. Generated from config.Settings: go test ./config -run TestExampleConfig -update
`)
	var sections []string
	bySection := map[string][]config.Setting{}
	for _, s := range config.Settings {
		section, _, _ := strings.Cut(s.Key, ".")
		if _, ok := bySection[section]; !ok {
			sections = append(sections, section)
		}
		bySection[section] = append(bySection[section], s)
	}
	for _, section := range sections {
		fmt.Fprintf(&b, "\n%s:\n", section)
		for _, s := range bySection[section] {
			flags := "--" + s.Flag
			if s.Short != "" {
				flags = "-" + s.Short + ", " + flags
			}
			_, key, _ := strings.Cut(s.Key, ".")
			fmt.Fprintf(&b, "  # %s (env %s, flag %s)\n  %s: %s\n", s.Usage, s.Env, flags, key, yamlValue(s.Default))
		}
	}
	return b.String()
}

func yamlValue(v any) string {
	switch v := v.(type) {
	case string:
		return strconv.Quote(v)
	case time.Duration:
		s := v.String() // 24h0m0s -> 24h, 1m0s -> 1m
		if strings.HasSuffix(s, "m0s") {
			s = strings.TrimSuffix(s, "0s")
		}
		if strings.HasSuffix(s, "h0m") {
			s = strings.TrimSuffix(s, "0m")
		}
		return s
	}
	return fmt.Sprint(v)
}

// config.example.yaml is generated from the settings table, names every setting, and loads to
// exactly the defaults, so it cannot drift from the code.
func TestExampleConfig(t *testing.T) {
	want := exampleYAML()
	if *update {
		require.NoError(t, os.WriteFile(examplePath, []byte(want), 0o644)) //nolint:gosec // a documentation file
	}
	got, err := os.ReadFile(examplePath)
	require.NoError(t, err)
	assert.Equal(t, want, string(got), "regenerate it: go test ./config -run TestExampleConfig -update")

	v := viper.New()
	v.SetConfigFile(examplePath)
	require.NoError(t, v.ReadInConfig())
	var keys []string
	for _, s := range config.Settings {
		keys = append(keys, s.Key)
	}
	slices.Sort(keys)
	fileKeys := v.AllKeys()
	slices.Sort(fileKeys)
	assert.Equal(t, keys, fileKeys, "every setting, and nothing else")

	clearEnv(t)
	fromFile, err := load(t, "--config", examplePath)
	require.NoError(t, err)
	defaults, err := load(t)
	require.NoError(t, err)
	assert.Equal(t, defaults, fromFile, "the file holds the defaults")
}
