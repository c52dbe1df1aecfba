package app

import "errors"

// ErrProviderUnavailable: the provider did not answer usefully; the request may be retried.
var ErrProviderUnavailable = errors.New("payment provider unavailable")
