// Package ports serves the course service's gRPC API.
package ports

import (
	"context"
	"log/slog"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/paysuite/paysuite/pkg/grpcserver"
	"github.com/paysuite/paysuite/pkg/principal"
	coursev1 "github.com/paysuite/paysuite/proto/gen/paysuite/course/v1"
	"github.com/paysuite/paysuite/services/course/internal/app"
	"github.com/paysuite/paysuite/services/course/internal/domain/enrollment"
)

// GRPC implements coursev1.CourseServiceServer on top of the use cases.
type GRPC struct {
	coursev1.UnimplementedCourseServiceServer
	app *app.App
	log *slog.Logger
}

// NewGRPC returns the gRPC port.
func NewGRPC(a *app.App, log *slog.Logger) *GRPC { return &GRPC{app: a, log: log} }

// ListUserEnrollments implements coursev1.CourseServiceServer.
func (s *GRPC) ListUserEnrollments(ctx context.Context, req *coursev1.ListUserEnrollmentsRequest) (*coursev1.ListUserEnrollmentsResponse, error) {
	list, err := s.app.ListUserEnrollments(ctx, principal.CallerFrom(ctx), req.GetUserId(), req.GetIncludeRevoked())
	if err != nil {
		return nil, toStatus(err)
	}
	resp := &coursev1.ListUserEnrollmentsResponse{Enrollments: make([]*coursev1.Enrollment, 0, len(list))}
	for _, e := range list {
		resp.Enrollments = append(resp.Enrollments, toProto(e))
	}
	return resp, nil
}

// HasAccess implements coursev1.CourseServiceServer.
func (s *GRPC) HasAccess(ctx context.Context, req *coursev1.HasAccessRequest) (*coursev1.HasAccessResponse, error) {
	ok, e, err := s.app.HasAccess(ctx, principal.CallerFrom(ctx), req.GetUserId(), req.GetCourseId())
	if err != nil {
		return nil, toStatus(err)
	}
	resp := &coursev1.HasAccessResponse{HasAccess: ok}
	if e != nil {
		resp.Enrollment = toProto(e)
	}
	return resp, nil
}

// errorCodes is the one table from domain errors to gRPC codes.
var errorCodes = []grpcserver.ErrorCode{
	{Err: enrollment.ErrEmptyUserID, Code: codes.InvalidArgument},
	{Err: enrollment.ErrEmptyCourseID, Code: codes.InvalidArgument},
	{Err: enrollment.ErrNotFound, Code: codes.NotFound},
	{Err: enrollment.ErrNotYours, Code: codes.PermissionDenied},
}

func toStatus(err error) error { return grpcserver.ToStatus(errorCodes, err) }

func toProto(e *enrollment.Enrollment) *coursev1.Enrollment {
	out := &coursev1.Enrollment{
		EnrollmentId: e.ID,
		UserId:       e.UserID,
		CourseId:     e.CourseID,
		Title:        e.Title,
		OrderId:      e.OrderID,
		EnrolledAt:   timestamppb.New(e.EnrolledAt),
		Active:       e.Active(),
	}
	if !e.RevokedAt.IsZero() {
		out.RevokedAt = timestamppb.New(e.RevokedAt)
	}
	return out
}
