package main

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gophermart/gophermart/modules/platform/ordernum"
)

func TestLuhnCheckDigit(t *testing.T) {
	tests := []struct {
		payload string
		want    byte
	}{
		{payload: "7992739871", want: '3'}, // the textbook example 79927398713
		{payload: "4561261212345467", want: '7'},
		{payload: "237722562", want: '4'}, // the spec's withdrawal order 2377225624
		{payload: "0", want: '0'},
		{payload: "", want: '0'},
	}
	for _, tt := range tests {
		t.Run(tt.payload, func(t *testing.T) {
			assert.Equal(t, string(tt.want), string(luhnCheckDigit(tt.payload)))
		})
	}
}

func TestLuhnValid(t *testing.T) {
	assert.True(t, luhnValid("79927398713"))
	assert.False(t, luhnValid("79927398710"))
	assert.False(t, luhnValid(""))
	assert.False(t, luhnValid("7992739871x"))
}

func TestNumbersAreDistinctAndValid(t *testing.T) {
	g := newNumbers("7123")
	const workers, each = 8, 500
	got := make([][]string, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				got[w] = append(got[w], g.next())
			}
		}()
	}
	wg.Wait()
	seen := map[string]bool{}
	for _, list := range got {
		for _, n := range list {
			require.False(t, seen[n], "duplicate %s", n)
			seen[n] = true
			assert.Len(t, n, 4+10+1)
			assert.Equal(t, "7123", n[:4])
			assert.True(t, luhnValid(n), n)
			parsed, err := ordernum.Parse(n) // the service's own check agrees
			require.NoError(t, err, n)
			assert.Equal(t, n, parsed.String())
		}
	}
	assert.Len(t, seen, workers*each)
}

func TestNumbersChangingOneDigitBreaksTheCheck(t *testing.T) {
	n := newNumbers("9").next()
	for i := range len(n) {
		b := []byte(n)
		b[i] = '0' + (b[i]-'0'+1)%10
		assert.False(t, luhnValid(string(b)), "%s with digit %d changed", n, i)
	}
}

func TestRandomDigits(t *testing.T) {
	d := randomDigits(12)
	assert.Len(t, d, 12)
	for _, c := range d {
		assert.True(t, c >= '0' && c <= '9', d)
	}
}
