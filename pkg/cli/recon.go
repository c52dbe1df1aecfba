package cli

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"

	"github.com/paysuite/paysuite/pkg/tlsx"
	paymentv1 "github.com/paysuite/paysuite/proto/gen/paysuite/payment/v1"
)

// reconChannels are the channels with a bill of their own (the others share their provider
// account's bill: CONTRACT.md, reconciliation).
var reconChannels = []string{paymentv1.Channel_ALIPAY_QR.String(), paymentv1.Channel_WECHAT_NATIVE.String()}

func reconCmd(o *Options) *cobra.Command {
	c := &cobra.Command{Use: "recon", Short: "Reconciliation of the providers' daily bills (payment service)"}
	var channel, date string
	run := &cobra.Command{
		Use:   "run --channel CHANNEL --date YYYY-MM-DD",
		Short: "Reconcile a channel's bill of one provider day now, and show the report",
		Long: `Fetch the provider's bill of one day (Asia/Shanghai) for a channel, compare it with the ledger,
repair what the rules repair (through the same doors as notifies and polls) and show the report:
the totals, then every discrepancy with the action taken. Running a day again updates the same
reconciliation and repairs nothing twice.`,
		Args: args(0, "no arguments (--channel and --date)"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ch, err := reconChannel(channel, true)
			if err != nil {
				return err
			}
			if date == "" {
				return UsageError{fmt.Errorf("--date is required: the provider day, YYYY-MM-DD")}
			}
			if t, err := time.Parse(time.DateOnly, date); err != nil || t.Format(time.DateOnly) != date {
				return UsageError{fmt.Errorf("--date %q: want YYYY-MM-DD", date)}
			}
			fmt.Fprintf(o.errOut, "reconciling %s %s ...\n", ch, date)
			r, err := call(cmd, o, tlsx.Payment, func(ctx context.Context, cc *grpc.ClientConn) (*paymentv1.Reconciliation, error) {
				return paymentv1.NewPaymentServiceClient(cc).RunReconciliation(ctx,
					&paymentv1.RunReconciliationRequest{Channel: ch, BillDate: date})
			})
			if err != nil {
				return fmt.Errorf("reconcile %s %s: %w", ch, date, err)
			}
			return o.printRecon(r)
		},
	}
	run.Flags().StringVar(&channel, "channel", "", "the channel whose bill to reconcile: "+fmt.Sprint(reconChannels))
	run.Flags().StringVar(&date, "date", "", "the provider day, YYYY-MM-DD (Asia/Shanghai)")

	show := &cobra.Command{
		Use: "show RECONCILIATION_ID", Short: "Show one reconciliation with its discrepancies", Args: args(1, "a reconciliation id"),
		RunE: func(cmd *cobra.Command, a []string) error {
			rid, err := id("reconciliation id", a[0])
			if err != nil {
				return err
			}
			r, err := call(cmd, o, tlsx.Payment, func(ctx context.Context, cc *grpc.ClientConn) (*paymentv1.Reconciliation, error) {
				return paymentv1.NewPaymentServiceClient(cc).GetReconciliation(ctx,
					&paymentv1.GetReconciliationRequest{ReconciliationId: rid})
			})
			if err != nil {
				return fmt.Errorf("reconciliation %d: %w", rid, err)
			}
			return o.printRecon(r)
		},
	}

	var listChannel string
	var limit int
	list := &cobra.Command{
		Use: "list", Short: "List reconciliations, newest provider day first", Args: args(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ch, err := reconChannel(listChannel, false)
			if err != nil {
				return err
			}
			if limit < 1 || limit > 100 {
				return UsageError{fmt.Errorf("--limit %d: want 1 to 100", limit)}
			}
			resp, err := call(cmd, o, tlsx.Payment, func(ctx context.Context, cc *grpc.ClientConn) (*paymentv1.ListReconciliationsResponse, error) {
				return paymentv1.NewPaymentServiceClient(cc).ListReconciliations(ctx,
					&paymentv1.ListReconciliationsRequest{Channel: ch, PageSize: int32(limit)})
			})
			if err != nil {
				return fmt.Errorf("list reconciliations: %w", err)
			}
			rows := make([][]string, 0, len(resp.GetReconciliations()))
			for _, r := range resp.GetReconciliations() {
				rows = append(rows, reconListRow(r))
			}
			return o.print(resp, reconListHeader, rows)
		},
	}
	list.Flags().StringVar(&listChannel, "channel", "", "one channel; empty for all")
	list.Flags().IntVar(&limit, "limit", 100, "at most this many (1 to 100)")

	c.AddCommand(run, show, list)
	return c
}

// reconChannel parses a channel name; empty is "all" where allowed.
func reconChannel(name string, required bool) (paymentv1.Channel, error) {
	if name == "" && !required {
		return paymentv1.Channel_CHANNEL_UNSPECIFIED, nil
	}
	if name == "" {
		return 0, UsageError{fmt.Errorf("--channel is required: one of %v", reconChannels)}
	}
	if !slices.Contains(reconChannels, name) {
		return 0, UsageError{fmt.Errorf("--channel %q: want one of %v", name, reconChannels)}
	}
	return paymentv1.Channel(paymentv1.Channel_value[name]), nil
}

var reconHeader = []string{"RECONCILIATION", "CHANNEL", "DATE", "STATUS", "ROWS", "MATCHED", "DISCREPANCIES",
	"GROSS", "REFUNDS", "FEE", "NET", "RUNS", "UPDATED"}

// The list RPC answers runs without their discrepancies, so the list has no count of them
// (a 0 there would read as "none"); `recon show` has them.
var reconListHeader = slices.DeleteFunc(slices.Clone(reconHeader), func(h string) bool { return h == "DISCREPANCIES" })

func reconListRow(r *paymentv1.Reconciliation) []string {
	return slices.Delete(reconRow(r), 6, 7)
}

func reconRow(r *paymentv1.Reconciliation) []string {
	return []string{i64(r.GetReconciliationId()), r.GetChannel().String(), r.GetBillDate(), r.GetStatus(),
		strconv.Itoa(int(r.GetBillRows())), strconv.Itoa(int(r.GetMatched())), strconv.Itoa(len(r.GetDiscrepancies())),
		fen(r.GetGrossFen()), fen(r.GetRefundFen()), fen(r.GetFeeFen()), fen(r.GetNetFen()), strconv.Itoa(int(r.GetRuns())),
		ts(r.GetUpdatedAt())}
}

// printRecon shows one reconciliation: JSON, or its totals, why it failed, and its
// discrepancies as a second table.
func (o *Options) printRecon(r *paymentv1.Reconciliation) error {
	if o.Output == "json" {
		return o.print(r, nil, nil)
	}
	if err := o.table(reconHeader, [][]string{reconRow(r)}); err != nil {
		return err
	}
	if reason := r.GetFailReason(); reason != "" {
		fmt.Fprintf(o.out, "\nFAILED: %s\n", reason)
	}
	if len(r.GetDiscrepancies()) == 0 {
		return nil
	}
	rows := make([][]string, 0, len(r.GetDiscrepancies()))
	for _, d := range r.GetDiscrepancies() {
		rows = append(rows, []string{d.GetKind(), d.GetOutTradeNo(), dash(d.GetOutRefundNo()), fen(d.GetLedgerFen()),
			fen(d.GetProviderFen()), d.GetAction(), d.GetDetail()})
	}
	fmt.Fprintln(o.out)
	return o.table([]string{"KIND", "OUT_TRADE_NO", "OUT_REFUND_NO", "LEDGER", "PROVIDER", "ACTION", "DETAIL"}, rows)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
