// Package settings turns a table of settings into flags, environment bindings and a viper instance
// with the precedence flag > environment > config file > default, where a flag left at its default
// never hides an environment value. Both binaries describe their configuration with it.
package settings

import (
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"github.com/spf13/viper"
)

// Setting describes one configuration key: its flag, environment variable and default.
type Setting struct {
	Key     string // viper key, e.g. "http.address"; also the key in a YAML config file
	Flag    string // long flag name
	Short   string // one-letter flag, or ""
	Env     string // environment variable
	Default any    // string, int, bool, float64 or time.Duration: also the flag's type
	Usage   string
}

// Name names a setting the way a user sets it: "RUN_ADDRESS (-a)", "GOPHERMART_TOKEN_TTL (--token-ttl)".
func (s Setting) Name() string {
	if s.Short != "" {
		return s.Env + " (-" + s.Short + ")"
	}
	return s.Env + " (--" + s.Flag + ")"
}

// Table is a list of settings, in the order --help and the README show them.
type Table []Setting

// Name names the setting with key as a user sets it; an unknown key is returned as is.
func (t Table) Name(key string) string {
	for _, s := range t {
		if s.Key == key {
			return s.Name()
		}
	}
	return key
}

// Only returns the settings with the given keys, in the table's order. It panics on a key the
// table does not have: that is a wiring mistake.
func (t Table) Only(keys ...string) Table {
	want := make(map[string]bool, len(keys))
	for _, k := range keys {
		want[k] = true
	}
	var out Table
	for _, s := range t {
		if want[s.Key] {
			out = append(out, s)
			delete(want, s.Key)
		}
	}
	for k := range want {
		panic("settings: no setting " + k)
	}
	return out
}

// AddFlags defines every setting's flag on fs, its usage naming the environment variable.
func (t Table) AddFlags(fs *pflag.FlagSet) {
	for _, s := range t {
		usage := fmt.Sprintf("%s (env %s)", s.Usage, s.Env)
		switch d := s.Default.(type) {
		case string:
			fs.StringP(s.Flag, s.Short, d, usage)
		case int:
			fs.IntP(s.Flag, s.Short, d, usage)
		case bool:
			fs.BoolP(s.Flag, s.Short, d, usage)
		case float64:
			fs.Float64P(s.Flag, s.Short, d, usage)
		case time.Duration:
			fs.DurationP(s.Flag, s.Short, d, usage)
		default:
			panic(fmt.Sprintf("settings: %s has unsupported default type %T", s.Key, d))
		}
	}
}

// Viper returns a viper instance holding every setting: its default, its environment variable and,
// only if it was given on the command line, its flag. fs must be parsed already.
func (t Table) Viper(fs *pflag.FlagSet) (*viper.Viper, error) {
	v := viper.New()
	for _, s := range t {
		v.SetDefault(s.Key, s.Default)
		if err := v.BindEnv(s.Key, s.Env); err != nil {
			return nil, err
		}
		if f := fs.Lookup(s.Flag); f != nil && f.Changed {
			if err := v.BindPFlag(s.Key, f); err != nil {
				return nil, err
			}
		}
	}
	return v, nil
}

// CheckTypes lists, naming each setting, the values given as text (environment, config file) that
// do not parse as their setting's type, so a mistake is reported where the user can fix it rather
// than deep inside a decoder. Each such value is replaced by its default in v, so that the rest can
// still be decoded and validated and every problem reported at once.
func (t Table) CheckTypes(v *viper.Viper) []string {
	var problems []string
	for _, s := range t {
		raw, ok := v.Get(s.Key).(string)
		if !ok {
			continue
		}
		raw = strings.TrimSpace(raw)
		var err error
		switch s.Default.(type) {
		case int:
			_, err = strconv.Atoi(raw)
		case bool:
			_, err = strconv.ParseBool(raw)
		case float64:
			_, err = strconv.ParseFloat(raw, 64)
		case time.Duration:
			_, err = time.ParseDuration(raw)
		}
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: cannot parse %q as %s", s.Name(), raw, typeName(s.Default)))
			v.Set(s.Key, s.Default)
		}
	}
	return problems
}

// UnknownKeys lists, one problem each, the keys (as viper's AllKeys gives them: lower case, dotted)
// that name no setting of t, with the nearest setting when one is a likely misspelling: a config
// file is read only for the keys it shares with the table, so a misspelt key would otherwise be
// silently ignored.
func (t Table) UnknownKeys(keys []string) []string {
	known := make(map[string]bool, len(t))
	for _, s := range t {
		known[s.Key] = true
	}
	var problems []string
	for _, k := range keys {
		if known[k] {
			continue
		}
		p := "unknown key " + k
		if near := t.nearest(k); near != "" {
			p += " (did you mean " + near + "?)"
		}
		problems = append(problems, p)
	}
	sort.Strings(problems)
	return problems
}

// nearest returns the key of t closest to key by edit distance, if a likely misspelling: one edit
// away, or two for a key of 8 bytes or more.
func (t Table) nearest(key string) string {
	best, bestD := "", min(2, max(1, len(key)/4))+1
	for _, s := range t {
		if d := editDistance(key, s.Key); d < bestD {
			best, bestD = s.Key, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func typeName(v any) string {
	switch v.(type) {
	case int:
		return "an integer"
	case bool:
		return "true or false"
	case float64:
		return "a number"
	case time.Duration:
		return "a duration such as 100ms"
	}
	return "text"
}

// CheckAddress returns an error for anything but host:port with a port from 0 to 65535.
func CheckAddress(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("want host:port, got %q", addr)
	}
	if strings.ContainsAny(host, " /?#") {
		return fmt.Errorf("bad host %q", host)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		return fmt.Errorf("bad port %q", port)
	}
	return nil
}

// CheckLoopbackAddress returns an error unless addr is host:port (as CheckAddress) whose host is a
// loopback IP (127.0.0.0/8, ::1) or localhost. An empty host, 0.0.0.0, :: or any other address
// would listen where other machines can reach it.
func CheckLoopbackAddress(addr string) error {
	if err := CheckAddress(addr); err != nil {
		return err
	}
	host, _, _ := net.SplitHostPort(addr)
	if strings.EqualFold(host, "localhost") {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("want a loopback address such as 127.0.0.1:0 or [::1]:8081, got %q", addr)
}
