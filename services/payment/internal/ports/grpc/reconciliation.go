package grpc

import (
	"context"

	"github.com/paysuite/paysuite/pkg/principal"
	paymentv1 "github.com/paysuite/paysuite/proto/gen/paysuite/payment/v1"
	"github.com/paysuite/paysuite/services/payment/internal/domain/payment"
	"github.com/paysuite/paysuite/services/payment/internal/domain/recon"
	"github.com/paysuite/paysuite/services/payment/internal/pbconv"
)

func (s *Server) RunReconciliation(ctx context.Context, req *paymentv1.RunReconciliationRequest) (*paymentv1.Reconciliation, error) {
	r, err := s.app.RunReconciliation(ctx, principal.CallerFrom(ctx), pbconv.ChannelFromProto(req.GetChannel()), req.GetBillDate())
	if err != nil {
		return nil, toStatus(err)
	}
	return reconToProto(r), nil
}

func (s *Server) GetReconciliation(ctx context.Context, req *paymentv1.GetReconciliationRequest) (*paymentv1.Reconciliation, error) {
	r, err := s.app.GetReconciliation(ctx, principal.CallerFrom(ctx), req.GetReconciliationId())
	if err != nil {
		return nil, toStatus(err)
	}
	return reconToProto(r), nil
}

func (s *Server) ListReconciliations(ctx context.Context, req *paymentv1.ListReconciliationsRequest) (*paymentv1.ListReconciliationsResponse, error) {
	var ch payment.Channel
	if req.GetChannel() != paymentv1.Channel_CHANNEL_UNSPECIFIED {
		ch = pbconv.ChannelFromProto(req.GetChannel())
	}
	list, err := s.app.ListReconciliations(ctx, principal.CallerFrom(ctx), ch, int(req.GetPageSize()))
	if err != nil {
		return nil, toStatus(err)
	}
	out := &paymentv1.ListReconciliationsResponse{}
	for _, r := range list {
		out.Reconciliations = append(out.Reconciliations, reconToProto(r))
	}
	return out, nil
}

func reconToProto(r *recon.Reconciliation) *paymentv1.Reconciliation {
	out := &paymentv1.Reconciliation{
		ReconciliationId: r.ID, Channel: pbconv.Channel(payment.Channel(r.Channel)), BillDate: r.Day.String(),
		Status: string(r.Status), Matched: int32(r.Matched), FeeFen: int64(r.FeeFen), BillRows: int32(r.BillRows),
		GrossFen: int64(r.GrossFen), RefundFen: int64(r.RefundFen), NetFen: int64(r.NetFen), FailReason: r.FailReason,
		Runs: int32(r.Runs), CreatedAt: ts(r.CreatedAt), UpdatedAt: ts(r.UpdatedAt),
	}
	for _, d := range r.Discrepancies {
		out.Discrepancies = append(out.Discrepancies, &paymentv1.Discrepancy{Kind: string(d.Kind), OutTradeNo: d.OutTradeNo,
			OutRefundNo: d.OutRefundNo, LedgerFen: int64(d.LedgerFen), ProviderFen: int64(d.ProviderFen),
			Action: string(d.Action), Detail: d.Detail})
	}
	return out
}
