package web_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gophermart/gophermart/modules/platform/web"
)

// fuzzCreds and fuzzWithdraw have the shapes of the service's request bodies.
type fuzzCreds struct {
	Login    *string `json:"login"`
	Password *string `json:"password"`
}

type fuzzWithdraw struct {
	Order string          `json:"order"`
	Sum   json.RawMessage `json:"sum"`
}

// hasDuplicateKey reports whether some object in data (valid JSON) names two keys that
// strings.EqualFold calls equal: an independent, quadratic statement of the rule Unmarshal applies.
func hasDuplicateKey(t *testing.T, data []byte) bool {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	type level struct {
		keys    []string
		object  bool
		wantKey bool
	}
	var stack []level
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return false
		}
		require.NoError(t, err)
		if len(stack) > 0 && stack[len(stack)-1].object && stack[len(stack)-1].wantKey {
			if d, ok := tok.(json.Delim); ok && d == '}' {
				stack = stack[:len(stack)-1]
				if len(stack) > 0 && stack[len(stack)-1].object {
					stack[len(stack)-1].wantKey = true
				}
				continue
			}
			top := &stack[len(stack)-1]
			key := tok.(string)
			for _, k := range top.keys {
				if strings.EqualFold(k, key) {
					return true
				}
			}
			top.keys = append(top.keys, key)
			top.wantKey = false
			continue
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, level{object: true, wantKey: true})
			continue
		case json.Delim('['):
			stack = append(stack, level{})
			continue
		case json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
		if len(stack) > 0 && stack[len(stack)-1].object {
			stack[len(stack)-1].wantKey = true
		}
	}
}

// FuzzUnmarshal holds Unmarshal to its contract on the service's body shapes: whatever it accepts,
// encoding/json accepts with the same result and the input has no repeated key; whatever
// encoding/json takes without unknown fields, repeated keys, deep nesting or trailing data, Unmarshal
// takes too.
func FuzzUnmarshal(f *testing.F) {
	for _, s := range []string{
		`{"login":"alice","password":"correct horse"}`,
		`{"login":"a","login":"b","password":"p"}`,
		`{"login":"a","LOGIN":"b"}`,
		`{"order":"12345678903","sum":751}`,
		`{"order":"1","sum":1,"sum":999999}`,
		`{"order":"1","ſum":1,"sum":2}`,
		`{"order":"1","sum":{"a":1,"a":2}}`,
		`{"order":"1","sum":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}`,
		`{"login":"a"} {"login":"b"}`,
		`{"login":"a"}x`,
		`{"login":"\u006c"}`,
		`{"\u006cogin":"a","login":"b"}`,
		`null`, `[]`, `5`, `""`, ``, ` `, `{`, `{"login":}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, mk := range []func() any{func() any { return new(fuzzCreds) }, func() any { return new(fuzzWithdraw) }} {
			strict, lenient := mk(), mk()
			err := web.Unmarshal(data, strict)
			dec := json.NewDecoder(bytes.NewReader(data))
			dec.DisallowUnknownFields()
			lerr := dec.Decode(lenient)
			trailing := lerr == nil && dec.More()
			if lerr == nil && !trailing {
				_, terr := dec.Token()
				trailing = !errors.Is(terr, io.EOF)
			}
			if err == nil {
				require.NoError(t, lerr, "Unmarshal accepted what encoding/json refuses")
				require.False(t, trailing, "Unmarshal accepted trailing data")
				require.True(t, reflect.DeepEqual(strict, lenient), "the same value as encoding/json")
				require.False(t, hasDuplicateKey(t, data), "Unmarshal accepted a repeated key")
				continue
			}
			if lerr == nil && !trailing && !hasDuplicateKey(t, data) && !bytes.Contains(data, []byte(strings.Repeat("[", 33))) &&
				!bytes.Contains(data, []byte(strings.Repeat("{", 33))) {
				// Only nesting (in any mix of brackets) can still explain a refusal.
				require.Contains(t, err.Error(), "nested deeper", "Unmarshal refused a valid body: %q", data)
			}
		}
	})
}
