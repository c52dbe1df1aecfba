// Package inputerr is the one family of malformed-request errors: the caller must fix the
// request, and nothing was changed. Domains declare their own messages with New; a port maps
// the whole family to InvalidArgument with one errors.Is(err, ErrInvalid).
package inputerr

import "errors"

// ErrInvalid matches every error made by New.
var ErrInvalid = errors.New("invalid input")

type inputError struct{ msg string }

func (e *inputError) Error() string        { return e.msg }
func (e *inputError) Is(target error) bool { return target == ErrInvalid }

// New returns a malformed-request error with msg, distinct from every other New error and
// matching errors.Is(err, ErrInvalid).
func New(msg string) error { return &inputError{msg: msg} }
