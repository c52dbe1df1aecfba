package app

import "errors"

// ErrProviderUnavailable: the provider did not answer usefully; the request may be retried.
var ErrProviderUnavailable = errors.New("payment provider unavailable")

// ErrOperatorOnly: an operator's action (SyncPayment), not one taken on behalf of an end user,
// whatever their roles (PermissionDenied).
var ErrOperatorOnly = errors.New("operators only (admin), not on behalf of an end user")
