// Package config reads settings from the environment and validates them at start.
//
// Every getter records a problem instead of failing at once, so a misconfigured process
// exits with one message naming every bad variable.
package config

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// Env reads and validates environment variables.
type Env struct {
	lookup func(string) (string, bool)
	errs   []error
}

// New reads the process environment.
func New() *Env { return &Env{lookup: os.LookupEnv} }

// FromMap reads the given values instead of the process environment (for tests and tools).
func FromMap(values map[string]string) *Env {
	return &Env{lookup: func(k string) (string, bool) { v, ok := values[k]; return v, ok }}
}

func (e *Env) raw(name string) (string, bool) {
	v, ok := e.lookup(name)
	v = strings.TrimSpace(v)
	return v, ok && v != ""
}

func (e *Env) fail(name, value, want string) {
	e.errs = append(e.errs, fmt.Errorf("%s=%q: %s", name, value, want))
}

// String returns the variable or def when unset.
func (e *Env) String(name, def string) string {
	if v, ok := e.raw(name); ok {
		return v
	}
	return def
}

// Required returns the variable and records an error when it is unset.
func (e *Env) Required(name string) string {
	v, ok := e.raw(name)
	if !ok {
		e.errs = append(e.errs, fmt.Errorf("%s: required but not set", name))
	}
	return v
}

// Int returns the variable parsed as an int, or def when unset.
func (e *Env) Int(name string, def int) int {
	return int(e.Int64(name, int64(def)))
}

// Int64 returns the variable parsed as an int64, or def when unset.
func (e *Env) Int64(name string, def int64) int64 {
	v, ok := e.raw(name)
	if !ok {
		return def
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		e.fail(name, v, "want a whole number")
		return def
	}
	return n
}

// Float returns the variable parsed as a float64, or def when unset.
func (e *Env) Float(name string, def float64) float64 {
	v, ok := e.raw(name)
	if !ok {
		return def
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		e.fail(name, v, "want a number")
		return def
	}
	return f
}

// Duration returns the variable parsed by time.ParseDuration ("30m", "2s"), or def when unset.
func (e *Env) Duration(name string, def time.Duration) time.Duration {
	v, ok := e.raw(name)
	if !ok {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		e.fail(name, v, "want a duration such as 30s, 25m or 1h")
		return def
	}
	return d
}

// Bool returns the variable parsed by strconv.ParseBool, or def when unset.
func (e *Env) Bool(name string, def bool) bool {
	v, ok := e.raw(name)
	if !ok {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		e.fail(name, v, "want true or false")
		return def
	}
	return b
}

// Check records msg as an error when ok is false.
func (e *Env) Check(ok bool, format string, args ...any) {
	if !ok {
		e.errs = append(e.errs, fmt.Errorf(format, args...))
	}
}

// Err returns every problem found so far, or nil.
func (e *Env) Err() error {
	if len(e.errs) == 0 {
		return nil
	}
	return fmt.Errorf("invalid configuration: %w", errors.Join(e.errs...))
}
