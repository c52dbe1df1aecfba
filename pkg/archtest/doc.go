// Package archtest holds the tests that keep every service's layers pointing one way
// (ports → app → domain, adapters → app): which packages each layer may import, and where
// message consumers live. It has no code of its own.
package archtest
