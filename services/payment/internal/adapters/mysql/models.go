package mysql

import (
	"database/sql"
	"encoding/json"
	"time"

	"github.com/paysuite/paysuite/pkg/money"
	"github.com/paysuite/paysuite/services/payment/internal/app"
	"github.com/paysuite/paysuite/services/payment/internal/domain/payment"
)

type paymentRow struct {
	ID              int64 `gorm:"primaryKey;autoIncrement:false"`
	OrderID         int64
	UserID          string
	Channel         string
	OutTradeNo      string
	LiveKey         sql.NullString
	AmountFen       int64
	Status          string
	QRCode          string `gorm:"column:qr_code"`
	ExpireAt        time.Time
	ProviderTradeNo string
	PaidAt          sql.NullTime
	RefundedFen     int64
	RefundingFen    int64
	RefundLines     sql.NullString
	CloseReason     string
	ClosedAt        sql.NullTime
	Items           string
	CreatedAt       time.Time `gorm:"autoCreateTime:false"`
	UpdatedAt       time.Time `gorm:"autoUpdateTime:false"`
}

func (paymentRow) TableName() string { return "payments" }

// selectPayment reads the columns scanPayment expects.
const selectPayment = "SELECT id, order_id, user_id, channel, out_trade_no, live_key, amount_fen, status, qr_code, expire_at, " +
	"provider_trade_no, paid_at, refunded_fen, refunding_fen, refund_lines, close_reason, closed_at, items, created_at, updated_at FROM payments"

func scanPayment(s interface{ Scan(...any) error }) (paymentRow, error) {
	var r paymentRow
	err := s.Scan(&r.ID, &r.OrderID, &r.UserID, &r.Channel, &r.OutTradeNo, &r.LiveKey, &r.AmountFen, &r.Status, &r.QRCode,
		&r.ExpireAt, &r.ProviderTradeNo, &r.PaidAt, &r.RefundedFen, &r.RefundingFen, &r.RefundLines, &r.CloseReason, &r.ClosedAt, &r.Items,
		&r.CreatedAt, &r.UpdatedAt)
	return r, err
}

func nullTime(t time.Time) sql.NullTime { return sql.NullTime{Time: t.UTC(), Valid: !t.IsZero()} }

func toPaymentRow(p *payment.Payment) paymentRow {
	items, _ := json.Marshal(p.Items)
	var lines sql.NullString
	if len(p.RefundLines) > 0 {
		b, _ := json.Marshal(p.RefundLines) // map keys sorted: the same lines, the same text
		lines = sql.NullString{String: string(b), Valid: true}
	}
	live := p.LiveKey()
	return paymentRow{
		ID: p.ID, OrderID: p.OrderID, UserID: p.UserID, Channel: string(p.Channel), OutTradeNo: p.OutTradeNo,
		LiveKey: sql.NullString{String: live, Valid: live != ""}, AmountFen: int64(p.Amount), Status: string(p.Status),
		QRCode: p.QRCode, ExpireAt: p.ExpireAt.UTC(), ProviderTradeNo: p.ProviderTradeNo, PaidAt: nullTime(p.PaidAt),
		RefundedFen: int64(p.RefundedFen), RefundingFen: int64(p.RefundingFen), RefundLines: lines, CloseReason: p.CloseReason,
		ClosedAt: nullTime(p.ClosedAt), Items: string(items), CreatedAt: p.CreatedAt.UTC(), UpdatedAt: p.UpdatedAt.UTC(),
	}
}

func (r paymentRow) domain() *payment.Payment {
	var items []payment.Item
	_ = json.Unmarshal([]byte(r.Items), &items)
	var lines map[string]int32
	if r.RefundLines.Valid {
		_ = json.Unmarshal([]byte(r.RefundLines.String), &lines)
	}
	return &payment.Payment{
		ID: r.ID, OrderID: r.OrderID, UserID: r.UserID, Channel: payment.Channel(r.Channel), OutTradeNo: r.OutTradeNo,
		Amount: money.Fen(r.AmountFen), Status: payment.Status(r.Status), QRCode: r.QRCode, ExpireAt: r.ExpireAt.UTC(),
		ProviderTradeNo: r.ProviderTradeNo, PaidAt: r.PaidAt.Time.UTC(), RefundedFen: money.Fen(r.RefundedFen),
		RefundingFen: money.Fen(r.RefundingFen), RefundLines: lines, CloseReason: r.CloseReason, ClosedAt: r.ClosedAt.Time.UTC(),
		Items: items, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
	}
}

type refundRow struct {
	ID            int64 `gorm:"primaryKey;autoIncrement:false"`
	PaymentID     int64
	OrderID       int64
	AmountFen     int64
	Reason        string
	RequestID     string
	OutRefundNo   string
	Status        string
	Auto          bool
	Submitted     bool
	OrderBegun    bool
	OrderFinished bool
	FailReason    string
	RefundLines   sql.NullString
	CreatedAt     time.Time `gorm:"autoCreateTime:false"`
	SucceededAt   sql.NullTime
	UpdatedAt     time.Time `gorm:"autoUpdateTime:false"`
}

func (refundRow) TableName() string { return "refunds" }

func toRefundRow(r *payment.Refund) refundRow {
	var lines sql.NullString
	if len(r.Lines) > 0 {
		b, _ := json.Marshal(r.Lines)
		lines = sql.NullString{String: string(b), Valid: true}
	}
	return refundRow{
		RefundLines: lines,
		ID:          r.ID, PaymentID: r.PaymentID, OrderID: r.OrderID, AmountFen: int64(r.Amount), Reason: r.Reason,
		RequestID: r.RequestID, OutRefundNo: r.OutRefundNo, Status: string(r.Status), Auto: r.Auto, Submitted: r.Submitted,
		OrderBegun: r.OrderBegun, OrderFinished: r.OrderFinished, FailReason: truncate(r.FailReason, 512),
		CreatedAt: r.CreatedAt.UTC(), SucceededAt: nullTime(r.SucceededAt), UpdatedAt: r.UpdatedAt.UTC(),
	}
}

func (r refundRow) domain() *payment.Refund {
	var lines []payment.RefundLine
	if r.RefundLines.Valid {
		_ = json.Unmarshal([]byte(r.RefundLines.String), &lines)
	}
	return &payment.Refund{
		Lines: lines,
		ID:    r.ID, PaymentID: r.PaymentID, OrderID: r.OrderID, Amount: money.Fen(r.AmountFen), Reason: r.Reason,
		RequestID: r.RequestID, OutRefundNo: r.OutRefundNo, Status: payment.RefundStatus(r.Status), Auto: r.Auto,
		Submitted: r.Submitted, OrderBegun: r.OrderBegun, OrderFinished: r.OrderFinished, FailReason: r.FailReason,
		CreatedAt: r.CreatedAt.UTC(), SucceededAt: r.SucceededAt.Time.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
	}
}

type notifyRow struct {
	ID           int64 `gorm:"primaryKey"`
	Channel      string
	OutTradeNo   string
	NotifyID     string
	DedupeKey    sql.NullString
	Verified     bool
	Outcome      string
	RefuseReason string
	Headers      string
	Body         string
	BodySHA256   string `gorm:"column:body_sha256"`
	ReceivedAt   time.Time
}

func (notifyRow) TableName() string { return "notify_log" }

func toNotifyRow(n app.NotifyRecord) notifyRow {
	return notifyRow{
		Channel: string(n.Channel), OutTradeNo: truncate(n.OutTradeNo, 64), NotifyID: truncate(n.NotifyID, 128),
		DedupeKey: sql.NullString{String: n.DedupeKey, Valid: n.DedupeKey != ""}, Verified: n.Verified,
		Outcome: n.Outcome, RefuseReason: truncate(n.RefuseReason, 512), Headers: n.Headers, Body: n.Body,
		BodySHA256: n.BodySHA256, ReceivedAt: n.ReceivedAt.UTC(),
	}
}

func (n notifyRow) domain() app.NotifyRecord {
	return app.NotifyRecord{
		Channel: payment.Channel(n.Channel), OutTradeNo: n.OutTradeNo, NotifyID: n.NotifyID, DedupeKey: n.DedupeKey.String,
		Verified: n.Verified, Outcome: n.Outcome, RefuseReason: n.RefuseReason, Headers: n.Headers, Body: n.Body,
		BodySHA256: n.BodySHA256, ReceivedAt: n.ReceivedAt.UTC(),
	}
}

type taskRow struct {
	ID        int64 `gorm:"primaryKey"`
	Kind      string
	RefID     int64
	NextRunAt time.Time
	Attempt   int
	LastError string
	CreatedAt time.Time `gorm:"autoCreateTime:false"`
}

func (taskRow) TableName() string { return "tasks" }

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
