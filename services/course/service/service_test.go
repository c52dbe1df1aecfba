package service_test

import (
	"context"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/paysuite/paysuite/pkg/testkit"
	coursev1 "github.com/paysuite/paysuite/proto/gen/paysuite/course/v1"
)

const queue = "paysuite.course.payment-results"

func TestCourseEnrolmentFollowsPaymentsAndRefunds(t *testing.T) {
	e := newEnv(t)
	c, _ := e.start()
	p := e.payment()

	paid := succeeded("evt-1", "alice", 1001, 2001, t0, course("c-go", "Go in Depth"), goods("mug"))
	p.event(paid)
	testkit.Eventually(t, waitFor, func() bool { return hasAccess(t, c, "alice", "c-go").GetHasAccess() },
		"alice never got access to the course she paid for")
	if hasAccess(t, c, "alice", "mug").GetHasAccess() {
		t.Fatal("a GOODS line became an enrolment")
	}

	// The same event twice (same message id), and once more under another message id.
	p.event(paid)
	p.eventAs("evt-1-copy", paid)
	// A second order of the same course: recorded, not a second enrolment.
	p.event(succeeded("evt-2", "alice", 1002, 2002, t0.Add(1e9), course("c-go", "Go in Depth")))
	// A partial refund of the first leaves access.
	p.event(refunded("evt-3", "alice", 1001, 2001, t0.Add(2e9), false))
	sync(t, p, c)

	list := enrollments(t, c, "alice", true)
	if len(list) != 1 {
		t.Fatalf("enrolments = %v, want exactly one", list)
	}
	got := list[0]
	if got.GetCourseId() != "c-go" || got.GetTitle() != "Go in Depth" || got.GetOrderId() != 1001 ||
		!got.GetActive() || !got.GetEnrolledAt().AsTime().Equal(t0) || got.GetRevokedAt() != nil {
		t.Fatalf("enrolment = %v", got)
	}

	t.Run("full refund of one of two payments keeps access", func(t *testing.T) {
		p.event(refunded("evt-4", "alice", 1001, 2001, t0.Add(3e9), true))
		sync(t, p, c)
		resp := hasAccess(t, c, "alice", "c-go")
		if !resp.GetHasAccess() || resp.GetEnrollment().GetOrderId() != 1002 {
			t.Fatalf("after refunding order 1001 with 1002 still paid: %v", resp)
		}
	})

	t.Run("full refund of the last payment revokes and keeps the row", func(t *testing.T) {
		refund := refunded("evt-5", "alice", 1002, 2002, t0.Add(4e9), true)
		p.event(refund)
		testkit.Eventually(t, waitFor, func() bool { return !hasAccess(t, c, "alice", "c-go").GetHasAccess() },
			"enrolment not revoked after the full refund")
		p.eventAs("evt-5-copy", refund)
		sync(t, p, c)
		if active := enrollments(t, c, "alice", false); len(active) != 0 {
			t.Fatalf("revoked enrolment listed as active: %v", active)
		}
		all := enrollments(t, c, "alice", true)
		if len(all) != 1 || all[0].GetActive() || !all[0].GetRevokedAt().AsTime().Equal(t0.Add(4e9)) {
			t.Fatalf("revoked enrolment = %v", all)
		}
	})

	t.Run("a new purchase re-activates the enrolment", func(t *testing.T) {
		p.event(succeeded("evt-6", "alice", 1003, 2003, t0.Add(5e9), course("c-go", "Go in Depth")))
		testkit.Eventually(t, waitFor, func() bool { return hasAccess(t, c, "alice", "c-go").GetHasAccess() },
			"re-purchase did not re-activate")
		all := enrollments(t, c, "alice", true)
		if len(all) != 1 || all[0].GetOrderId() != 1003 || all[0].GetRevokedAt() != nil ||
			all[0].GetEnrollmentId() != got.GetEnrollmentId() {
			t.Fatalf("re-activated enrolment = %v (was %v)", all, got)
		}
	})

	t.Run("a refund that overtakes its success grants nothing", func(t *testing.T) {
		p.event(refunded("evt-8", "bob", 1004, 2004, t0.Add(7e9), true, course("c-rust", "Rust")))
		p.event(succeeded("evt-7", "bob", 1004, 2004, t0.Add(6e9), course("c-rust", "Rust")))
		sync(t, p, c)
		if resp := hasAccess(t, c, "bob", "c-rust"); resp.GetHasAccess() || resp.GetEnrollment() != nil {
			t.Fatalf("refunded-before-success payment gave access: %v", resp)
		}
	})
}

func TestUndecodableMessageIsParkedAndTheQueueMovesOn(t *testing.T) {
	e := newEnv(t)
	c, _ := e.start()
	p := e.payment()

	p.publish("garbage-1", []byte("\xff\xff\xff not protobuf"))
	p.eventAs("no-user", succeeded("no-user", "", 1, 2, t0, course("c-go", "Go"))) // decodes, but invalid
	testkit.Eventually(t, waitFor, func() bool { return p.parked(queue) == 2 }, "poison messages not parked")

	p.event(succeeded("evt-ok", "carol", 1, 2, t0, course("c-go", "Go")))
	testkit.Eventually(t, waitFor, func() bool { return hasAccess(t, c, "carol", "c-go").GetHasAccess() },
		"a good message after poison ones was not processed")
}

func TestEventsPublishedWhileDownAreProcessedAfterStart(t *testing.T) {
	e := newEnv(t)
	_, stop := e.start() // declares the durable queue, as any deployed service has
	stop()

	p := e.payment()
	users := []string{"u1", "u2", "u3", "u4", "u5"}
	for i, u := range users {
		p.event(succeeded("down-"+u, u, int64(3000+i), int64(4000+i), t0, course("c-go", "Go")))
	}

	c, _ := e.start()
	testkit.Eventually(t, waitFor, func() bool {
		for _, u := range users {
			if !hasAccess(t, c, u, "c-go").GetHasAccess() {
				return false
			}
		}
		return true
	}, "not every event published while the service was down was processed")
}

func TestEmptyIDsAreInvalidArgument(t *testing.T) {
	e := newEnv(t)
	c, _ := e.start()
	ctx := context.Background()
	for name, call := range map[string]func() error{
		"list without user": func() error {
			_, err := c.ListUserEnrollments(ctx, &coursev1.ListUserEnrollmentsRequest{})
			return err
		},
		"access without user": func() error {
			_, err := c.HasAccess(ctx, &coursev1.HasAccessRequest{CourseId: "c"})
			return err
		},
		"access without course": func() error {
			_, err := c.HasAccess(ctx, &coursev1.HasAccessRequest{UserId: "u"})
			return err
		},
	} {
		if code := status.Code(call()); code != codes.InvalidArgument {
			t.Errorf("%s: code %v, want InvalidArgument", name, code)
		}
	}
	resp, err := c.HasAccess(ctx, &coursev1.HasAccessRequest{UserId: "nobody", CourseId: "c"})
	if err != nil || resp.GetHasAccess() || resp.GetEnrollment() != nil {
		t.Fatalf("unknown user: %v, %v", resp, err)
	}
}
