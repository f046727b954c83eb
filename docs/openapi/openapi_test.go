package openapi_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gophermart/gophermart/docs/openapi"
	"github.com/gophermart/gophermart/modules/auth"
	"github.com/gophermart/gophermart/modules/calculator"
	"github.com/gophermart/gophermart/modules/orders"
	"github.com/gophermart/gophermart/modules/platform/apidoc"
	"github.com/gophermart/gophermart/modules/platform/keyset"
	"github.com/gophermart/gophermart/modules/platform/ordernum"
	"github.com/gophermart/gophermart/modules/platform/points"
	"github.com/gophermart/gophermart/modules/platform/web"
)

func load(t *testing.T, spec []byte) *openapi3.T {
	t.Helper()
	doc, err := apidoc.Load(spec)
	require.NoError(t, err)
	return doc
}

func schema(t *testing.T, doc *openapi3.T, name string) *openapi3.Schema {
	t.Helper()
	ref := doc.Components.Schemas[name]
	require.NotNil(t, ref, "schema %s", name)
	return ref.Value
}

func prop(t *testing.T, s *openapi3.Schema, name string) *openapi3.Schema {
	t.Helper()
	ref := s.Properties[name]
	require.NotNil(t, ref, "property %s", name)
	if len(ref.Value.AllOf) == 1 { // a $ref wrapped to carry its own description
		return ref.Value.AllOf[0].Value
	}
	return ref.Value
}

// TestDocumentsAreValid: both documents load (the checks the servers run at startup), every
// operation has what the docs page shows for it, and errors are problem+json. The one server entry
// is relative, so that "Try it out" on /docs calls the server the page came from.
func TestDocumentsAreValid(t *testing.T) {
	for name, spec := range map[string][]byte{"gophermart": openapi.Gophermart, "accrual": openapi.Accrual} {
		t.Run(name, func(t *testing.T) {
			doc := load(t, spec)
			assert.Equal(t, "3.0.3", doc.OpenAPI)
			require.Len(t, doc.Servers, 1)
			assert.Equal(t, "/", doc.Servers[0].URL)
			for path, item := range doc.Paths.Map() {
				for method, op := range item.Operations() {
					assert.NotEmpty(t, op.Summary, "%s %s has no summary", method, path)
					assert.NotEmpty(t, op.OperationID, "%s %s has no operationId", method, path)
					assert.NotEmpty(t, op.Tags, "%s %s has no tag", method, path)
					for code, r := range op.Responses.Map() {
						for mt := range r.Value.Content {
							plain429 := name == "accrual" && code == "429" // the black box's 429 is plain text
							if code[0] != '2' && !plain429 {
								assert.Equal(t, "application/problem+json", mt, "%s %s %s: errors are problem+json",
									method, path, code)
							}
						}
					}
				}
			}
		})
	}
}

// TestDocumentMatchesTheCodesLimits ties the numbers and names the documents state to the constants
// the code enforces, so that changing one side alone fails here.
func TestDocumentMatchesTheCodesLimits(t *testing.T) {
	gm := load(t, openapi.Gophermart)

	reg := schema(t, gm, "RegisterRequest")
	assert.Equal(t, uint64(auth.MaxLoginLen), *prop(t, reg, "login").MaxLength)
	assert.Equal(t, uint64(auth.MinPasswordLen), prop(t, reg, "password").MinLength)
	assert.Equal(t, uint64(auth.MaxPasswordLen), *prop(t, reg, "password").MaxLength)

	num := schema(t, gm, "OrderNumber")
	assert.Equal(t, uint64(ordernum.MaxLen), *num.MaxLength)
	assert.Contains(t, schema(t, gm, "OrderNumberText").Pattern, fmt.Sprintf("{1,%d}", ordernum.MaxLen))

	var statuses []any
	for _, s := range []string{orders.StatusNew, orders.StatusProcessing, orders.StatusInvalid, orders.StatusProcessed} {
		statuses = append(statuses, s)
	}
	assert.ElementsMatch(t, statuses, schema(t, gm, "OrderStatus").Enum)

	sum := prop(t, schema(t, gm, "WithdrawRequest"), "sum")
	require.NotNil(t, sum.Max)
	assert.Equal(t, points.Max.String(), fmt.Sprintf("%.2f", *sum.Max))

	limit := gm.Components.Parameters["Limit"].Value.Schema.Value
	assert.InDelta(t, float64(keyset.MaxLimit), *limit.Max, 0)
	assert.EqualValues(t, keyset.DefaultLimit, limit.Default)
	for _, page := range []string{"OrderPage", "WithdrawalPage"} {
		assert.Equal(t, uint64(keyset.MaxLimit), *prop(t, schema(t, gm, page), "items").MaxItems)
	}
	assert.Equal(t, web.CookieName, gm.Components.SecuritySchemes["cookieAuth"].Value.Name)

	acc := load(t, openapi.Accrual)
	accStatus := prop(t, schema(t, acc, "OrderAccrual"), "status")
	assert.ElementsMatch(t, []any{
		calculator.StatusRegistered, calculator.StatusProcessing, calculator.StatusInvalid,
		calculator.StatusProcessed,
	}, accStatus.Enum)
	mech := schema(t, acc, "Mechanic")
	assert.ElementsMatch(t, []any{calculator.RewardPercent, calculator.RewardPoints}, prop(t, mech, "reward_type").Enum)
	assert.Equal(t, uint64(calculator.MaxMatchLen), *prop(t, mech, "match").MaxLength)
	assert.Equal(t, uint64(calculator.MaxDescriptionLen), *prop(t, schema(t, acc, "Good"), "description").MaxLength)
}

// TestAmountSchemaAcceptsEveryAmount: whatever points.Amount prints, the Amount schema (a number,
// multiple of 0.01) accepts once a client has read it as a float64; a third decimal is refused.
func TestAmountSchemaAcceptsEveryAmount(t *testing.T) {
	amount := schema(t, load(t, openapi.Gophermart), "Amount")
	check := func(a points.Amount) error {
		b, err := json.Marshal(a)
		require.NoError(t, err)
		var v any
		require.NoError(t, json.Unmarshal(b, &v))
		return amount.VisitJSON(v)
	}
	for a := points.Amount(0); a <= 20_000; a++ { // every kopeck up to 200.00
		if err := check(a); err != nil {
			require.NoError(t, err, "amount %s", a)
		}
	}
	for a := points.Amount(20_011); a < points.Max; a = a*21/20 + 7 { // then ever sparser up to the maximum
		if err := check(a); err != nil {
			require.NoError(t, err, "amount %s", a)
		}
	}
	for _, a := range []points.Amount{72998, 1999, 29, points.Max, points.Max - 1, 1<<53 - 1, 16777216, 16777217} {
		require.NoError(t, check(a), "amount %s", a)
	}
	require.Error(t, amount.VisitJSON(729.985))
	require.Error(t, amount.VisitJSON(-0.01))
}
