package inputerr_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/paysuite/paysuite/pkg/inputerr"
)

func TestNewErrorsAreOneFamilyOfDistinctErrors(t *testing.T) {
	missing, tooLong := inputerr.New("id is required"), inputerr.New("id is too long")
	wrapped := fmt.Errorf("order 7: %w", missing)
	if !errors.Is(wrapped, inputerr.ErrInvalid) || !errors.Is(wrapped, missing) {
		t.Fatalf("a wrapped input error lost its family or itself: %v", wrapped)
	}
	if errors.Is(wrapped, tooLong) {
		t.Fatal("two input errors with other messages match each other")
	}
	if errors.Is(errors.New("id is required"), inputerr.ErrInvalid) {
		t.Fatal("an error not made by New joined the family")
	}
	if got := wrapped.Error(); got != "order 7: id is required" {
		t.Fatalf("message %q", got)
	}
}
