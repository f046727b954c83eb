package calculator

import "errors"

// ErrMatchExists is returned when a mechanic with the same match is already registered (409).
var ErrMatchExists = errors.New("a reward mechanic with this match is already registered")

// ErrOrderExists is returned when the order is already registered (409).
var ErrOrderExists = errors.New("the order is already registered")
