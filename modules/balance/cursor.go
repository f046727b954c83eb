package balance

import (
	"encoding/base64"
	"strconv"
	"strings"
	"time"

	"github.com/gophermart/gophermart/modules/platform/ordernum"
)

// Page sizes of the paginated list.
const (
	DefaultPageLimit = 50
	MaxPageLimit     = 500
)

// cursor is the position after which a page starts: the (processed_at, order_number) of the last
// withdrawal of the previous page. On the wire it is opaque: base64url of "<unix microseconds>:<number>".
type cursor struct {
	At  time.Time
	Key string
}

func encodeCursor(c cursor) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(c.At.UnixMicro(), 10) + ":" + c.Key))
}

// decodeCursor parses a cursor made by encodeCursor; "" is the first page (nil).
func decodeCursor(s string) (*cursor, error) {
	if s == "" {
		return nil, nil
	}
	if len(s) > 2*ordernum.MaxLen {
		return nil, ErrBadCursor
	}
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, ErrBadCursor
	}
	micros, key, ok := strings.Cut(string(raw), ":")
	if !ok {
		return nil, ErrBadCursor
	}
	us, err := strconv.ParseInt(micros, 10, 64)
	if err != nil || us < 0 {
		return nil, ErrBadCursor
	}
	if key == "" || len(key) > ordernum.MaxLen || strings.ContainsFunc(key, func(r rune) bool { return r < '0' || r > '9' }) {
		return nil, ErrBadCursor
	}
	return &cursor{At: time.UnixMicro(us).UTC(), Key: key}, nil
}
