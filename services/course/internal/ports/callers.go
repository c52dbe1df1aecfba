package ports

import (
	"github.com/paysuite/paysuite/pkg/grpcauth"
	"github.com/paysuite/paysuite/pkg/tlsx"
	coursev1 "github.com/paysuite/paysuite/proto/gen/paysuite/course/v1"
)

// Callers is who may call each CourseService RPC, by the SPIFFE name of their client
// certificate; admin may call all of them, and anyone else gets PermissionDenied. Enrolments
// themselves only ever come from the payment results the payment service published.
func Callers() grpcauth.Policy {
	return grpcauth.Policy{
		coursev1.CourseService_ListUserEnrollments_FullMethodName: grpcauth.By(tlsx.Gateway),
		coursev1.CourseService_HasAccess_FullMethodName:           grpcauth.By(tlsx.Gateway),
	}
}
