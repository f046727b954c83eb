package orders

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gophermart/gophermart/modules/platform/db/dbtest"
	"github.com/gophermart/gophermart/modules/platform/ordernum"
	"github.com/gophermart/gophermart/modules/platform/web/webtest"
)

// clock makes the service's clock tick one second per call, from a fixed start.
func clock(e *env, start time.Time) {
	var ticks atomic.Int64
	e.svc.now = func() time.Time { return start.Add(time.Duration(ticks.Add(1)-1) * time.Second) }
}

func TestUpload(t *testing.T) {
	for name, open := range dbtest.Engines(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := setup(t, open)
			n := num(1, 1)
			before := time.Now().UTC().Add(-time.Second)
			assert.Equal(t, http.StatusAccepted, e.upload(t, "alice", "  "+n+"\n"), "new number, body trimmed")

			r := e.row(t, n)
			assert.Equal(t, "alice", r.UserID)
			assert.Equal(t, StatusNew, r.Status)
			assert.Nil(t, r.Accrual)
			require.NotNil(t, r.NextPollAt, "a new order is due for polling")
			assert.True(t, r.NextPollAt.Equal(r.UploadedAt), "due at once: next_poll_at %v, uploaded_at %v", r.NextPollAt, r.UploadedAt)
			assert.True(t, r.UploadedAt.After(before), "uploaded_at %v is now", r.UploadedAt)
			assert.Equal(t, int64(0), r.Attempts)
			assert.Nil(t, r.LeaseOwner)
			assert.Nil(t, r.LeaseUntil)
			assert.Equal(t, []ordernum.Number{ordernum.Number(n)}, e.notes.notified(), "the worker hears of a new order")

			assert.Equal(t, http.StatusOK, e.upload(t, "alice", n), "same user again")
			code, hdr, body := e.call(t, http.MethodPost, "/api/user/orders", webtest.Token("bob"), n)
			assert.Equal(t, http.StatusConflict, code, "another user's number")
			assert.Equal(t, "application/problem+json", hdr.Get("Content-Type"))
			assert.Contains(t, body, ErrOwnedByAnother.Error())

			assert.Equal(t, "alice", e.row(t, n).UserID, "the owner never changes")
			assert.Len(t, e.notes.notified(), 1, "only a new order is notified")
			assert.Equal(t, int64(1), e.count(t))
		})
	}
}

func TestUploadBadInput(t *testing.T) {
	valid300 := luhn(strings.Repeat("7", 299))
	tests := []struct {
		name string
		body string
		want int
	}{
		{name: "empty", body: "", want: http.StatusBadRequest},
		{name: "blank", body: " \n\t ", want: http.StatusBadRequest},
		{name: "letters", body: "12a45", want: http.StatusUnprocessableEntity},
		{name: "negative", body: "-" + num(2, 1), want: http.StatusUnprocessableEntity},
		{name: "decimal", body: num(2, 1) + ".0", want: http.StatusUnprocessableEntity},
		{name: "inner space", body: "4561 2612 1234 5467", want: http.StatusUnprocessableEntity},
		{name: "luhn invalid", body: "79927398710", want: http.StatusUnprocessableEntity},
		{name: "json", body: `{"number":"79927398713"}`, want: http.StatusUnprocessableEntity},
		{name: "over 256 digits", body: valid300, want: http.StatusUnprocessableEntity},
		{name: "10000 digits", body: luhn(strings.Repeat("1", 9999)), want: http.StatusBadRequest},
		{name: "just over 1 KiB of spaces", body: num(2, 2) + strings.Repeat(" ", 1100), want: http.StatusBadRequest},
	}
	for name, open := range dbtest.Engines(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := setup(t, open)
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					code, hdr, body := e.call(t, http.MethodPost, "/api/user/orders", webtest.Token("alice"), tt.body)
					assert.Equal(t, tt.want, code, body)
					assert.Equal(t, "application/problem+json", hdr.Get("Content-Type"))
				})
			}
			assert.Equal(t, int64(0), e.count(t), "bad input stores nothing")
			assert.Empty(t, e.notes.notified())
		})
	}
}

func TestUploadRace(t *testing.T) {
	const numbers = 20
	for name, open := range dbtest.Engines(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := setup(t, open)
			type result struct{ alice, bob int }
			results := make([]result, numbers)
			var wg sync.WaitGroup
			for i := range numbers {
				n := num(3, i)
				wg.Add(2)
				go func() { defer wg.Done(); results[i].alice = e.uploadAsync("alice", n) }()
				go func() { defer wg.Done(); results[i].bob = e.uploadAsync("bob", n) }()
			}
			wg.Wait()
			for i, r := range results {
				got := []int{r.alice, r.bob}
				assert.ElementsMatch(t, []int{http.StatusAccepted, http.StatusConflict}, got, "number %d", i)
				winner := "alice"
				if r.bob == http.StatusAccepted {
					winner = "bob"
				}
				assert.Equal(t, winner, e.row(t, num(3, i)).UserID, "the 202 answer owns number %d", i)
			}
			assert.Len(t, e.notes.notified(), numbers, "one notification per number")

			// The same user racing with itself: one 202, the rest 200.
			n := num(3, 999)
			codes := make([]int, 8)
			for i := range codes {
				wg.Add(1)
				go func() { defer wg.Done(); codes[i] = e.uploadAsync("alice", n) }()
			}
			wg.Wait()
			accepted := 0
			for _, c := range codes {
				if c == http.StatusAccepted {
					accepted++
				} else {
					assert.Equal(t, http.StatusOK, c)
				}
			}
			assert.Equal(t, 1, accepted)
		})
	}
}

type listItem struct {
	Number     string   `json:"number"`
	Status     string   `json:"status"`
	Accrual    *float64 `json:"accrual"`
	UploadedAt string   `json:"uploaded_at"`
}

func TestList(t *testing.T) {
	for name, open := range dbtest.Engines(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := setup(t, open)
			code, _, body := e.call(t, http.MethodGet, "/api/user/orders", webtest.Token("alice"), "")
			assert.Equal(t, http.StatusNoContent, code)
			assert.Empty(t, body)

			start := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
			clock(e, start)
			nums := make([]string, 5)
			for i := range nums {
				nums[i] = num(4, i)
				require.Equal(t, http.StatusAccepted, e.upload(t, "alice", nums[i]))
			}
			require.Equal(t, http.StatusAccepted, e.upload(t, "bob", num(4, 100)))
			ctx := context.Background()
			set := func(n, status string, accrual any) {
				require.NoError(t, e.db.Conn(ctx).Exec(
					"UPDATE gm_orders SET status = ?, accrual = ?, next_poll_at = NULL WHERE number = ?", status, accrual, n).Error)
			}
			set(nums[0], StatusProcessed, int64(72998))
			set(nums[1], StatusProcessed, nil)
			set(nums[2], StatusInvalid, nil)
			set(nums[3], StatusProcessing, nil)

			code, hdr, body := e.call(t, http.MethodGet, "/api/user/orders", webtest.Token("alice"), "")
			require.Equal(t, http.StatusOK, code, body)
			assert.Equal(t, "application/json", hdr.Get("Content-Type"))
			var items []listItem
			require.NoError(t, json.Unmarshal([]byte(body), &items))
			require.Len(t, items, 5, "alice sees only her orders")
			for i, it := range items {
				idx := 4 - i // newest upload first
				assert.Equal(t, nums[idx], it.Number)
				at, err := time.Parse(time.RFC3339, it.UploadedAt)
				require.NoError(t, err)
				assert.True(t, at.Equal(start.Add(time.Duration(idx)*time.Second)), "uploaded_at %s", it.UploadedAt)
			}
			assert.Equal(t, "2024-05-06T07:08:13Z", items[0].UploadedAt, "RFC 3339 with a zone")
			assert.Equal(t, []string{StatusNew, StatusProcessing, StatusInvalid, StatusProcessed, StatusProcessed},
				[]string{items[0].Status, items[1].Status, items[2].Status, items[3].Status, items[4].Status})
			for _, it := range items[:4] {
				assert.Nil(t, it.Accrual, "no accrual on %s %s", it.Status, it.Number)
			}
			assert.Contains(t, body, `"number":"`+nums[0]+`","status":"PROCESSED","accrual":729.98,"uploaded_at"`,
				"the exact amount, only when credited")
			assert.Equal(t, 1, strings.Count(body, "accrual"))
		})
	}
}

func TestListGzip(t *testing.T) {
	for name, open := range dbtest.Engines(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := setup(t, open)
			for i := range 10 {
				require.Equal(t, http.StatusAccepted, e.upload(t, "alice", num(5, i)))
			}
			token := webtest.Token("alice")
			_, hdr, plain := e.call(t, http.MethodGet, "/api/user/orders", token, "")
			assert.Empty(t, hdr.Get("Content-Encoding"), "no gzip unless asked")

			for _, path := range []string{"/api/user/orders", "/api/user/orders/page?limit=10"} {
				code, hdr, body := e.call(t, http.MethodGet, path, token, "", "Accept-Encoding", "gzip")
				require.Equal(t, http.StatusOK, code)
				assert.Equal(t, "gzip", hdr.Get("Content-Encoding"), path)
				assert.Contains(t, hdr.Get("Vary"), "Accept-Encoding")
				zr, err := gzip.NewReader(bytes.NewReader([]byte(body)))
				require.NoError(t, err)
				raw, err := io.ReadAll(zr)
				require.NoError(t, err)
				if path == "/api/user/orders" {
					assert.JSONEq(t, plain, string(raw))
				} else {
					assert.Contains(t, string(raw), `"items":[`)
				}
			}
			// Uploads never compress, whatever the client accepts.
			code, hdr, _ := e.call(t, http.MethodPost, "/api/user/orders", token, num(5, 1), "Accept-Encoding", "gzip")
			assert.Equal(t, http.StatusOK, code)
			assert.Empty(t, hdr.Get("Content-Encoding"))
			// A request body may come gzipped.
			var buf bytes.Buffer
			zw := gzip.NewWriter(&buf)
			_, err := zw.Write([]byte(num(5, 77)))
			require.NoError(t, err)
			require.NoError(t, zw.Close())
			code, _, _ = e.call(t, http.MethodPost, "/api/user/orders", token, buf.String(), "Content-Encoding", "gzip")
			assert.Equal(t, http.StatusAccepted, code)
			assert.Equal(t, "alice", e.row(t, num(5, 77)).UserID)
		})
	}
}

type pageBody struct {
	Items      []listItem `json:"items"`
	NextCursor *string    `json:"next_cursor"`
}

func TestPage(t *testing.T) {
	for name, open := range dbtest.Engines(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := setup(t, open)
			token := webtest.Token("alice")
			code, _, body := e.call(t, http.MethodGet, "/api/user/orders/page", token, "")
			assert.Equal(t, http.StatusOK, code)
			assert.JSONEq(t, `{"items":[]}`, body, "an empty page is 200, not 204")

			// Seven orders, three of them uploaded in the same microsecond: the number breaks the tie.
			start := time.Date(2024, 1, 2, 3, 4, 5, 123456000, time.UTC)
			clock(e, start)
			for i := range 4 {
				require.Equal(t, http.StatusAccepted, e.upload(t, "alice", num(6, i)))
			}
			e.svc.now = func() time.Time { return start.Add(time.Hour) }
			for i := 4; i < 7; i++ {
				require.Equal(t, http.StatusAccepted, e.upload(t, "alice", num(6, i)))
			}
			require.Equal(t, http.StatusAccepted, e.upload(t, "bob", num(6, 50)))

			_, _, full := e.call(t, http.MethodGet, "/api/user/orders", token, "")
			var all []listItem
			require.NoError(t, json.Unmarshal([]byte(full), &all))
			require.Len(t, all, 7)
			assert.Equal(t, []string{num(6, 6), num(6, 5), num(6, 4)}, []string{all[0].Number, all[1].Number, all[2].Number},
				"ties broken by number, descending")

			var got []listItem
			cursor, pages := "", 0
			for {
				path := "/api/user/orders/page?limit=3"
				if cursor != "" {
					path += "&cursor=" + cursor
				}
				code, _, body := e.call(t, http.MethodGet, path, token, "")
				require.Equal(t, http.StatusOK, code, body)
				var p pageBody
				require.NoError(t, json.Unmarshal([]byte(body), &p))
				pages++
				got = append(got, p.Items...)
				if p.NextCursor == nil {
					assert.NotContains(t, body, "next_cursor", "omitted on the last page")
					break
				}
				assert.Len(t, p.Items, 3)
				cursor = *p.NextCursor
				require.LessOrEqual(t, pages, 3)
			}
			assert.Equal(t, 3, pages)
			assert.Equal(t, all, got, "the pages, in order, are the list")

			code, _, body = e.call(t, http.MethodGet, "/api/user/orders/page", token, "")
			require.Equal(t, http.StatusOK, code)
			var p pageBody
			require.NoError(t, json.Unmarshal([]byte(body), &p))
			assert.Len(t, p.Items, 7, "default limit covers all")
			assert.Nil(t, p.NextCursor)

			for _, q := range []string{"limit=0", "limit=-1", "limit=501", "limit=x", "limit=1.5", "cursor=%21%21", "cursor=bm9wZQ", "cursor=MTI6YWJj"} {
				code, hdr, body := e.call(t, http.MethodGet, "/api/user/orders/page?"+q, token, "")
				assert.Equal(t, http.StatusBadRequest, code, "%s: %s", q, body)
				assert.Equal(t, "application/problem+json", hdr.Get("Content-Type"))
			}
		})
	}
}

func TestUnauthorized(t *testing.T) {
	e := newEnv(t, dbtest.Engines(t)["sqlite"](t), Config{})
	endpoints := []struct{ method, path, body string }{
		{http.MethodPost, "/api/user/orders", num(7, 1)},
		{http.MethodGet, "/api/user/orders", ""},
		{http.MethodGet, "/api/user/orders/page", ""},
	}
	for _, ep := range endpoints {
		for name, auth := range map[string]string{"none": "", "forged": "Bearer forged.jwt.token", "not bearer": "Basic YTpi"} {
			t.Run(ep.method+" "+ep.path+" "+name, func(t *testing.T) {
				var hdr []string
				if auth != "" {
					hdr = []string{"Authorization", auth}
				}
				code, _, _ := e.call(t, ep.method, ep.path, "", ep.body, hdr...)
				assert.Equal(t, http.StatusUnauthorized, code)
			})
		}
	}
	assert.Equal(t, int64(0), e.count(t))
}

// A valid token whose user the database does not hold (a configured secret outliving a reset
// database) is answered 401, not a foreign-key 500.
func TestUploadUnknownUser(t *testing.T) {
	for name, open := range dbtest.Engines(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := setup(t, open)
			code, _, body := e.call(t, http.MethodPost, "/api/user/orders", webtest.Token("ghost"), "12345678903")
			assert.Equal(t, http.StatusUnauthorized, code, body)
			assert.Equal(t, int64(0), e.count(t))
		})
	}
}

// getList sends GET /api/user/orders as alice over a real connection, asking for gzip or not, with a
// client that leaves Content-Encoding alone.
func getList(t *testing.T, base, path string, gzipped bool) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, base+path, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+webtest.Token("alice"))
	if gzipped {
		req.Header.Set("Accept-Encoding", "gzip")
	}
	resp, err := (&http.Client{Transport: &http.Transport{DisableCompression: true}}).Do(req)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	if gzipped {
		require.Equal(t, "gzip", resp.Header.Get("Content-Encoding"))
		zr, err := gzip.NewReader(bytes.NewReader(body))
		require.NoError(t, err)
		body, err = io.ReadAll(zr)
		require.NoError(t, err)
	} else {
		require.Empty(t, resp.Header.Get("Content-Encoding"))
	}
	return resp, body
}

// A list longer than one chunk is streamed, complete and in order, compressed or not, and is byte for
// byte the JSON of the whole list.
func TestListLongIsStreamedWhole(t *testing.T) {
	const count = 2*listChunk + 34
	for name, open := range dbtest.Engines(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := setup(t, open)
			seedOrders(t, e.db, "alice", 24, count)
			seedOrders(t, e.db, "bob", 25, 3)
			all, err := NewStore(e.db).PageByUser(context.Background(), "alice", nil, count+1)
			require.NoError(t, err)
			require.Len(t, all, count)
			want, err := json.Marshal(toItems(all))
			require.NoError(t, err)

			base := webtest.Serve(t, e.app)
			for _, gzipped := range []bool{false, true} {
				resp, body := getList(t, base, "/api/user/orders", gzipped)
				require.Equal(t, http.StatusOK, resp.StatusCode)
				assert.Equal(t, []string{"chunked"}, resp.TransferEncoding, "streamed")
				assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
				assert.Equal(t, string(want), string(body), "gzip=%v", gzipped)
			}
			var items []listItem
			require.NoError(t, json.Unmarshal(want, &items))
			assert.Equal(t, num(24, count-1), items[0].Number, "newest first")
			assert.Equal(t, num(24, 0), items[count-1].Number)
			for i, it := range items {
				assert.Equal(t, it.Status == StatusProcessed, it.Accrual != nil, "item %d: accrual only when credited", i)
			}
		})
	}
}
