package cli

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/paysuite/paysuite/pkg/tlsx"
	notificationv1 "github.com/paysuite/paysuite/proto/gen/paysuite/notification/v1"
	orderv1 "github.com/paysuite/paysuite/proto/gen/paysuite/order/v1"
	paymentv1 "github.com/paysuite/paysuite/proto/gen/paysuite/payment/v1"
)

func ts(t *timestamppb.Timestamp) string {
	if t == nil || !t.IsValid() || t.AsTime().IsZero() {
		return "-"
	}
	return t.AsTime().UTC().Format(time.RFC3339)
}

// fen shows an amount in yuan with two decimals.
func fen(v int64) string {
	sign := ""
	if v < 0 {
		sign, v = "-", -v
	}
	return fmt.Sprintf("%s%d.%02d", sign, v/100, v%100)
}

func i64(v int64) string { return strconv.FormatInt(v, 10) }

func orderCmd(o *Options) *cobra.Command {
	c := &cobra.Command{Use: "order", Short: "Orders (order service)"}
	c.AddCommand(&cobra.Command{
		Use: "get ORDER_ID", Short: "Show one order", Args: args(1, "an order id"),
		RunE: func(cmd *cobra.Command, a []string) error {
			oid, err := id("order id", a[0])
			if err != nil {
				return err
			}
			ord, err := call(cmd, o, tlsx.Order, func(ctx context.Context, cc *grpc.ClientConn) (*orderv1.Order, error) {
				return orderv1.NewOrderServiceClient(cc).GetOrder(ctx, &orderv1.GetOrderRequest{OrderId: oid})
			})
			if err != nil {
				return fmt.Errorf("order %d: %w", oid, err)
			}
			return o.print(ord, []string{"ORDER", "USER", "STATUS", "TOTAL", "PAYMENT", "CREATED", "PAY_DEADLINE", "PAID"},
				[][]string{{i64(ord.GetOrderId()), ord.GetUserId(), ord.GetStatus().String(), fen(ord.GetTotalFen()),
					i64(ord.GetPaymentId()), ts(ord.GetCreatedAt()), ts(ord.GetPayDeadline()), ts(ord.GetPaidAt())}})
		},
	})
	return c
}

func paymentCmd(o *Options) *cobra.Command {
	c := &cobra.Command{Use: "payment", Short: "Payments (payment service)"}
	c.AddCommand(&cobra.Command{
		Use: "get PAYMENT_ID", Short: "Show one payment", Args: args(1, "a payment id"),
		RunE: func(cmd *cobra.Command, a []string) error {
			pid, err := id("payment id", a[0])
			if err != nil {
				return err
			}
			p, err := call(cmd, o, tlsx.Payment, func(ctx context.Context, cc *grpc.ClientConn) (*paymentv1.Payment, error) {
				return paymentv1.NewPaymentServiceClient(cc).GetPayment(ctx, &paymentv1.GetPaymentRequest{PaymentId: pid})
			})
			if err != nil {
				return fmt.Errorf("payment %d: %w", pid, err)
			}
			return o.printPayment(p)
		},
	})
	c.AddCommand(&cobra.Command{
		Use:   "sync PAYMENT_ID",
		Short: "Ask the provider about a payment now, through the same door as polling",
		Long: `Ask the provider about a payment now instead of at its next poll, and record the answer
through the same door as polling: a WAITING payment the provider reports paid becomes SUCCEEDED
and its order follows (PAID); one the provider closed becomes CLOSED. A SUCCEEDED or REFUNDED
payment is shown as it is. It never closes or pays anything the provider did not say, so it is
safe to run at any time. The payment as it is afterwards goes to stdout; what changed to stderr.`,
		Args: args(1, "a payment id"),
		RunE: func(cmd *cobra.Command, a []string) error {
			pid, err := id("payment id", a[0])
			if err != nil {
				return err
			}
			type synced struct{ before, after *paymentv1.Payment }
			r, err := call(cmd, o, tlsx.Payment, func(ctx context.Context, cc *grpc.ClientConn) (synced, error) {
				client := paymentv1.NewPaymentServiceClient(cc)
				before, err := client.GetPayment(ctx, &paymentv1.GetPaymentRequest{PaymentId: pid})
				if err != nil {
					return synced{}, err
				}
				after, err := client.SyncPayment(ctx, &paymentv1.SyncPaymentRequest{PaymentId: pid})
				return synced{before, after}, err
			})
			if err != nil {
				return fmt.Errorf("sync payment %d: %w", pid, err)
			}
			if was, is := r.before.GetStatus(), r.after.GetStatus(); was != is {
				fmt.Fprintf(o.errOut, "payment %d: %s -> %s (the provider's word, recorded as a poll would)\n", pid, was, is)
			} else {
				fmt.Fprintf(o.errOut, "payment %d: %s, unchanged\n", pid, is)
			}
			return o.printPayment(r.after)
		},
	})
	return c
}

// printPayment shows one payment.
func (o *Options) printPayment(p *paymentv1.Payment) error {
	return o.print(p, []string{"PAYMENT", "ORDER", "CHANNEL", "STATUS", "AMOUNT", "REFUNDED", "OUT_TRADE_NO",
		"PROVIDER_TRADE_NO", "EXPIRES", "PAID"},
		[][]string{{i64(p.GetPaymentId()), i64(p.GetOrderId()), p.GetChannel().String(), p.GetStatus().String(),
			fen(p.GetAmountFen()), fen(p.GetRefundedFen()), p.GetOutTradeNo(), p.GetProviderTradeNo(),
			ts(p.GetExpireAt()), ts(p.GetPaidAt())}})
}

func refundCmd(o *Options) *cobra.Command {
	c := &cobra.Command{Use: "refund", Short: "Refunds (payment service)"}
	c.AddCommand(&cobra.Command{
		Use: "get REFUND_ID", Short: "Show one refund", Args: args(1, "a refund id"),
		RunE: func(cmd *cobra.Command, a []string) error {
			rid, err := id("refund id", a[0])
			if err != nil {
				return err
			}
			r, err := call(cmd, o, tlsx.Payment, func(ctx context.Context, cc *grpc.ClientConn) (*paymentv1.Refund, error) {
				return paymentv1.NewPaymentServiceClient(cc).GetRefund(ctx, &paymentv1.GetRefundRequest{RefundId: rid})
			})
			if err != nil {
				return fmt.Errorf("refund %d: %w", rid, err)
			}
			return o.printRefund(r)
		},
	})
	c.AddCommand(&cobra.Command{
		Use:   "sync REFUND_ID",
		Short: "Ask the provider about a PROCESSING refund now, through the refund task's own steps",
		Long: `Move a refund now instead of at its next scheduled check, through the refund task's own steps:
a PROCESSING refund is queried at the provider (submitted again with the same out_refund_no if
the provider never took it, so it cannot refund twice), settled or failed by what the provider
says, and the order is told. A settled refund is shown as it is. The refund afterwards goes to
stdout; what changed to stderr.`,
		Args: args(1, "a refund id"),
		RunE: func(cmd *cobra.Command, a []string) error {
			rid, err := id("refund id", a[0])
			if err != nil {
				return err
			}
			type synced struct{ before, after *paymentv1.Refund }
			r, err := call(cmd, o, tlsx.Payment, func(ctx context.Context, cc *grpc.ClientConn) (synced, error) {
				client := paymentv1.NewPaymentServiceClient(cc)
				before, err := client.GetRefund(ctx, &paymentv1.GetRefundRequest{RefundId: rid})
				if err != nil {
					return synced{}, err
				}
				after, err := client.SyncRefund(ctx, &paymentv1.SyncRefundRequest{RefundId: rid})
				return synced{before, after}, err
			})
			if err != nil {
				return fmt.Errorf("sync refund %d: %w", rid, err)
			}
			if was, is := r.before.GetStatus(), r.after.GetStatus(); was != is {
				fmt.Fprintf(o.errOut, "refund %d: %s -> %s (the provider's word, recorded as the refund task would)\n", rid, was, is)
			} else {
				fmt.Fprintf(o.errOut, "refund %d: %s, unchanged\n", rid, is)
			}
			return o.printRefund(r.after)
		},
	})
	return c
}

// printRefund shows one refund.
func (o *Options) printRefund(r *paymentv1.Refund) error {
	return o.print(r, []string{"REFUND", "PAYMENT", "ORDER", "STATUS", "AMOUNT", "OUT_REFUND_NO", "REASON", "CREATED", "SUCCEEDED"},
		[][]string{{i64(r.GetRefundId()), i64(r.GetPaymentId()), i64(r.GetOrderId()), r.GetStatus().String(),
			fen(r.GetAmountFen()), r.GetOutRefundNo(), r.GetReason(), ts(r.GetCreatedAt()), ts(r.GetSucceededAt())}})
}

func anomaliesCmd(o *Options) *cobra.Command {
	var state, kind string
	c := &cobra.Command{
		Use: "anomalies", Short: "List payment anomalies waiting for an operator (default: OPEN)", Args: args(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			var all []*paymentv1.Anomaly
			page := ""
			for {
				resp, err := call(cmd, o, tlsx.Payment, func(ctx context.Context, cc *grpc.ClientConn) (*paymentv1.ListAnomaliesResponse, error) {
					return paymentv1.NewPaymentServiceClient(cc).ListAnomalies(ctx, &paymentv1.ListAnomaliesRequest{
						State: state, Kind: kind, PageSize: 100, PageToken: page})
				})
				if err != nil {
					return fmt.Errorf("list anomalies: %w", err)
				}
				all = append(all, resp.GetAnomalies()...)
				if page = resp.GetNextPageToken(); page == "" {
					break
				}
			}
			rows := make([][]string, 0, len(all))
			for _, a := range all {
				rows = append(rows, []string{i64(a.GetAnomalyId()), a.GetKind(), a.GetState(), i64(a.GetPaymentId()),
					i64(a.GetRefundId()), fen(a.GetAmountFen()), fen(a.GetProviderAmountFen()), ts(a.GetCreatedAt()), a.GetDetail()})
			}
			return o.print(&paymentv1.ListAnomaliesResponse{Anomalies: all},
				[]string{"ANOMALY", "KIND", "STATE", "PAYMENT", "REFUND", "AMOUNT", "PROVIDER_AMOUNT", "CREATED", "DETAIL"}, rows)
		},
	}
	c.Flags().StringVar(&state, "state", "OPEN", "OPEN, RESOLVED, or empty for both")
	c.Flags().StringVar(&kind, "kind", "", "one kind (REFUND_STUCK, AMOUNT_MISMATCH, ...); empty for all")
	return c
}

func webhooksCmd(o *Options) *cobra.Command {
	c := &cobra.Command{
		Use: "webhooks SUBSCRIPTION_ID", Short: "List a webhook subscription's deliveries (notification service)",
		Args: args(1, "a subscription id"),
		RunE: func(cmd *cobra.Command, a []string) error {
			sid, err := id("subscription id", a[0])
			if err != nil {
				return err
			}
			resp, err := call(cmd, o, tlsx.Notification, func(ctx context.Context, cc *grpc.ClientConn) (*notificationv1.ListDeliveriesResponse, error) {
				return notificationv1.NewNotificationServiceClient(cc).ListDeliveries(ctx,
					&notificationv1.ListDeliveriesRequest{SubscriptionId: sid, PageSize: 100})
			})
			if err != nil {
				return fmt.Errorf("deliveries of subscription %d: %w", sid, err)
			}
			var rows [][]string
			for _, d := range resp.GetDeliveries() {
				last := "-"
				if n := len(d.GetAttemptLog()); n > 0 {
					l := d.GetAttemptLog()[n-1]
					last = fmt.Sprintf("%d %s", l.GetHttpStatus(), l.GetError())
				}
				rows = append(rows, []string{i64(d.GetDeliveryId()), d.GetEventId(), d.GetStatus().String(),
					strconv.Itoa(int(d.GetAttempts())), ts(d.GetNextAttemptAt()), ts(d.GetDeliveredAt()), last})
			}
			return o.print(resp, []string{"DELIVERY", "EVENT", "STATUS", "ATTEMPTS", "NEXT_ATTEMPT", "DELIVERED", "LAST_ATTEMPT"}, rows)
		},
	}
	c.AddCommand(&cobra.Command{
		Use: "resend DELIVERY_ID", Short: "Queue a delivery again with a fresh attempt budget", Args: args(1, "a delivery id"),
		RunE: func(cmd *cobra.Command, a []string) error {
			did, err := id("delivery id", a[0])
			if err != nil {
				return err
			}
			if !o.confirm(fmt.Sprintf("resend delivery %d?", did)) {
				return fmt.Errorf("not confirmed")
			}
			d, err := call(cmd, o, tlsx.Notification, func(ctx context.Context, cc *grpc.ClientConn) (*notificationv1.Delivery, error) {
				return notificationv1.NewNotificationServiceClient(cc).ResendDelivery(ctx, &notificationv1.ResendDeliveryRequest{DeliveryId: did})
			})
			if err != nil {
				return fmt.Errorf("resend delivery %d: %w", did, err)
			}
			return o.print(d, []string{"DELIVERY", "STATUS", "NEXT_ATTEMPT"},
				[][]string{{i64(d.GetDeliveryId()), d.GetStatus().String(), ts(d.GetNextAttemptAt())}})
		},
	})
	return c
}
