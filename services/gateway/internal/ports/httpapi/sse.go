package httpapi

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	notificationv1 "github.com/paysuite/paysuite/proto/gen/paysuite/notification/v1"
)

// sseHeartbeat keeps idle event streams alive through proxies that close silent connections.
const sseHeartbeat = 15 * time.Second

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
// OrderStatusUpdate in protojson; when the order is final the service ends the stream and the
// last event is `event: end`; a stream failure is a final `event: fault` with the
// {"code","message"} body. After either the page stops listening.
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
	stream, err := h.client.WatchOrder(outgoing(ctx), &notificationv1.WatchOrderRequest{OrderId: orderID})
	if err == nil {
		// The service sends headers once it has accepted the watch (the order is the caller's,
		// the user has a stream left): until then nothing is committed, so a refusal is a
		// plain HTTP error, never an open stream. A stream that ended before its headers (a
		// refusal) gives no header; Recv then has the reason.
		var md metadata.MD
		if md, err = stream.Header(); err == nil && md == nil {
			if _, err = stream.Recv(); err == io.EOF {
				err = status.Error(codes.Internal, "the watch ended before it started")
			}
		}
	}
	if err != nil {
		writeStatus(w, err)
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
			if u.err == io.EOF {
				fmt.Fprint(w, "event: end\ndata: {}\n\n") // the order is final: nothing more will come
				_ = rc.Flush()
				return
			}
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

// writeStatus answers a gRPC error as the usual JSON error with grpc-gateway's HTTP status.
func writeStatus(w http.ResponseWriter, err error) {
	st := status.Convert(err)
	writeError(w, runtime.HTTPStatusFromCode(st.Code()), st.Code(), st.Message())
}
