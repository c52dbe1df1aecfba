package httpapi

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	notificationv1 "github.com/paysuite/paysuite/proto/gen/paysuite/notification/v1"
)

// sseHeartbeat keeps idle event streams alive through proxies that close silent connections.
const sseHeartbeat = 15 * time.Second

// sseFirstWait bounds how long the SSE handler waits for the first answer before it commits
// to a 200 response.
const sseFirstWait = 500 * time.Millisecond

// wantsEventStream reports whether the client asked for Server-Sent Events, as browsers'
// EventSource does with "Accept: text/event-stream".
func wantsEventStream(r *http.Request) bool {
	for _, v := range r.Header.Values("Accept") {
		if strings.Contains(v, "text/event-stream") {
			return true
		}
	}
	return false
}

// watchOrderSSE serves WatchOrder as Server-Sent Events on the same path as the
// newline-delimited JSON stream: each update is an `event: status` whose data is the
// OrderStatusUpdate in protojson; a stream failure is a final `event: fault` with the
// {"code","message"} body, after which the page stops listening.
type watchOrderSSE struct {
	client    notificationv1.NotificationServiceClient
	marshaler runtime.Marshaler
	log       *slog.Logger
}

func (h watchOrderSSE) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	orderID, err := strconv.ParseInt(r.PathValue("orderId"), 10, 64)
	if err != nil {
		writeError(w, http.StatusBadRequest, codes.InvalidArgument, "orderId must be an integer")
		return
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	stream, err := h.client.WatchOrder(withRequestIDMetadata(ctx), &notificationv1.WatchOrderRequest{OrderId: orderID})
	if err != nil {
		st := status.Convert(err)
		writeError(w, runtime.HTTPStatusFromCode(st.Code()), st.Code(), st.Message())
		return
	}

	type recvd struct {
		msg *notificationv1.OrderStatusUpdate
		err error
	}
	updates := make(chan recvd)
	go func() {
		for {
			msg, err := stream.Recv()
			select {
			case updates <- recvd{msg, err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()

	// A bad request (order id 0, …) fails at once: wait briefly for that so the client gets a
	// real HTTP status instead of a 200 followed by a fault event. A valid watch sends the
	// current status at once, or nothing until something happens.
	var first *recvd
	select {
	case u := <-updates:
		if u.err != nil {
			st := status.Convert(u.err)
			writeError(w, runtime.HTTPStatusFromCode(st.Code()), st.Code(), st.Message())
			return
		}
		first = &u
	case <-time.After(sseFirstWait):
	case <-ctx.Done():
		return
	}

	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	fmt.Fprintf(w, "retry: 2000\n: watching order %d\n\n", orderID)
	if err := rc.Flush(); err != nil {
		return
	}
	seq := 0
	event := func(u *notificationv1.OrderStatusUpdate) bool {
		data, err := h.marshaler.Marshal(u)
		if err != nil {
			h.log.Error("marshal order update", "err", err)
			return false
		}
		seq++
		fmt.Fprintf(w, "id: %d\nevent: status\ndata: %s\n\n", seq, data)
		return rc.Flush() == nil
	}
	if first != nil && !event(first.msg) {
		return
	}

	tick := time.NewTicker(sseHeartbeat)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			fmt.Fprint(w, ": ping\n\n")
			if rc.Flush() != nil {
				return
			}
		case u := <-updates:
			if u.err != nil {
				if ctx.Err() == nil {
					st := status.Convert(u.err)
					data, _ := h.marshaler.Marshal(st.Proto())
					fmt.Fprintf(w, "event: fault\ndata: %s\n\n", data)
					_ = rc.Flush()
				}
				return
			}
			if !event(u.msg) {
				return
			}
		}
	}
}
