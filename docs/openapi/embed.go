// Package openapi holds the OpenAPI 3 documents of Gophermart's two HTTP services. They are the
// contract: tests check them against the routes the real servers register and the answers they give,
// so a change to either side that the other does not follow fails the build.
package openapi

import _ "embed"

// Gophermart is the OpenAPI document of the gophermart service (gophermart.yaml).
//
//go:embed gophermart.yaml
var Gophermart []byte

// Accrual is the OpenAPI document of the accrual service (accrual.yaml).
//
//go:embed accrual.yaml
var Accrual []byte
