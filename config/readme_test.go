package config_test

import (
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gophermart/gophermart/config"
)

// Every setting is documented in README: its flag, its environment variable and its config key.
func TestREADMEDocumentsEverySetting(t *testing.T) {
	raw, err := os.ReadFile("../README.md")
	require.NoError(t, err)
	readme := string(raw)
	for _, s := range config.Settings {
		assert.Contains(t, readme, "`--"+s.Flag+"`", s.Key)
		assert.Contains(t, readme, "`"+s.Env+"`", s.Key)
		assert.Contains(t, readme, "`"+s.Key+"`", s.Key)
		if s.Short != "" {
			assert.Contains(t, readme, "`-"+s.Short+"`", s.Key)
		}
	}
	assert.NotContains(t, readme, "ACCRUAL_SECTION", "no placeholder left")
	assert.Contains(t, readme, "go test -race", "the test command is stated")
}
