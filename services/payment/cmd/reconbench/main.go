// Command reconbench reconciles a day of -rows bill rows per channel (Alipay's GBK zip,
// WeChat's gzip CSV, both in the real layout) against a ledger of as many payments in MariaDB,
// and compares it with its anchor: merely reading and parsing the same file and comparing each
// row with an in-memory map. It prints rows/s, peak heap and the ratio (full rows/s over the
// anchor's); `make bench` runs it.
package main

import (
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha1"
	"database/sql"
	"encoding/csv"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	gomysql "github.com/go-sql-driver/mysql"
	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/paysuite/paysuite/pkg/db"
	"github.com/paysuite/paysuite/pkg/ids"
	"github.com/paysuite/paysuite/pkg/money"
	"github.com/paysuite/paysuite/pkg/principal"
	"github.com/paysuite/paysuite/services/payment/internal/adapters/bill"
	"github.com/paysuite/paysuite/services/payment/internal/adapters/events"
	"github.com/paysuite/paysuite/services/payment/internal/adapters/mysql"
	"github.com/paysuite/paysuite/services/payment/internal/app"
	"github.com/paysuite/paysuite/services/payment/internal/domain/payment"
	"github.com/paysuite/paysuite/services/payment/internal/domain/recon"
)

func main() {
	rows := flag.Int("rows", 100_000, "bill rows (and ledger payments) per channel")
	rounds := flag.Int("rounds", 3, "alternating anchor/full rounds per channel; the best of each is reported")
	strict := flag.Bool("strict", false, "exit 1 when a ratio is below 0.5")
	verbose := flag.Bool("v", false, "log each run's phases (ledger read, parse, compare, repair, save) to stderr")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the reconciliation runs (not the anchors) to this file")
	flag.Parse()
	benchVerbose, benchProfile = *verbose, *cpuprofile
	if err := run(*rows, *rounds, *strict); err != nil {
		fmt.Fprintln(os.Stderr, "reconbench:", err)
		os.Exit(1)
	}
}

// The bench's day: yesterday in Asia/Shanghai, so it is over.
var day = recon.DayOf(time.Now()).Prev()

var (
	benchVerbose bool
	benchProfile string
)

func run(n, rounds int, strict bool) error {
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	if benchVerbose {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	dsn := os.Getenv("MYSQL_DSN")
	if dsn == "" {
		dsn = db.DefaultDSN
	}
	base, err := gomysql.ParseDSN(dsn)
	if err != nil {
		return err
	}
	base.DBName = fmt.Sprintf("pst_reconbench_%d", time.Now().UnixNano()%1e9)
	gdb, err := db.Open(ctx, base.FormatDSN(), "payment", mysql.Migrations(), log)
	if err != nil {
		return err
	}
	sqlDB, _ := gdb.DB()
	defer func() {
		_, _ = sqlDB.Exec("DROP DATABASE IF EXISTS `" + base.DBName + "_payment`")
		sqlDB.Close()
	}()
	node, _ := ids.NewNode(9)
	repo := mysql.NewRepository(gdb, events.NewOutbox(gdb))
	srcs := map[payment.Channel]*memBill{}
	fmt.Printf("reconciliation benchmark: %d bill rows per channel against %d ledger payments, MariaDB %s, %d CPUs\n",
		n, n, base.Addr, runtime.NumCPU())
	for _, ch := range []payment.Channel{payment.ChannelAlipayQR, payment.ChannelWechatNative} {
		if err := seed(ctx, sqlDB, ch, n); err != nil {
			return err
		}
		src, err := newMemBill(ch, n)
		if err != nil {
			return err
		}
		srcs[ch] = src
	}
	a := app.New(app.Config{ProviderTradeTimeout: 25 * time.Minute}, app.Deps{
		Payments: repo, Refunds: repo, Notifies: repo, Tasks: repo, NewID: func() int64 { return node.Generate().Int64() },
		Bills: map[payment.Channel]app.BillSource{payment.ChannelAlipayQR: srcs[payment.ChannelAlipayQR],
			payment.ChannelWechatNative: srcs[payment.ChannelWechatNative]},
		Recons: repo, AnomalyRecorder: repo, Anomalies: repo,
	}, log)
	merchant := principal.Caller{} // the operator
	for _, ch := range []payment.Channel{payment.ChannelAlipayQR, payment.ChannelWechatNative} {
		plan, err := repo.ExplainLedgerDay(ctx, ch.AccountChannels(), day.Start, day.End())
		if err != nil {
			return err
		}
		fmt.Printf("ledger read of %s's account: %s\n", ch, strings.Join(plan, "; "))
	}
	ok := true
	if benchProfile != "" {
		f, err := os.Create(benchProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	for _, ch := range []payment.Channel{payment.ChannelAlipayQR, payment.ChannelWechatNative} {
		src := srcs[ch]
		var bestAnchor, bestFull time.Duration
		var peakAnchor, peakFull uint64
		for i := 0; i < rounds; i++ {
			d, peak, err := measure(func() error { return src.anchor() })
			if err != nil {
				return err
			}
			if bestAnchor == 0 || d < bestAnchor {
				bestAnchor = d
			}
			peakAnchor = max(peakAnchor, peak)
			// Every round is the day's first reconciliation (what the daily run does); the rerun
			// is measured once after the rounds.
			if err := forget(ctx, sqlDB); err != nil {
				return err
			}
			var r *recon.Reconciliation
			d, peak, err = measure(func() error {
				var err error
				r, err = a.RunReconciliation(ctx, merchant, ch, day.String())
				return err
			})
			if err != nil {
				return err
			}
			if r.BillRows != n || r.Matched != n || len(r.Discrepancies) != 0 {
				return fmt.Errorf("%s: reconciled %d rows, %d matched, %d discrepancies; want %d, all matched", ch, r.BillRows, r.Matched, len(r.Discrepancies), n)
			}
			if bestFull == 0 || d < bestFull {
				bestFull = d
			}
			peakFull = max(peakFull, peak)
		}
		rerun, _, err := measure(func() error {
			_, err := a.RunReconciliation(ctx, merchant, ch, day.String())
			return err
		})
		if err != nil {
			return err
		}
		ratio := bestAnchor.Seconds() / bestFull.Seconds()
		fmt.Printf("%-14s file %5.1f MiB  anchor (read+parse+compare) %8.0f rows/s peak heap %4.0f MiB | reconcile %8.0f rows/s peak heap %4.0f MiB | ratio %.2f (want >= 0.50) | a rerun %8.0f rows/s\n",
			ch, float64(len(src.raw.Body))/(1<<20), float64(n)/bestAnchor.Seconds(), float64(peakAnchor)/(1<<20),
			float64(n)/bestFull.Seconds(), float64(peakFull)/(1<<20), ratio, float64(n)/rerun.Seconds())
		ok = ok && ratio >= 0.5
	}
	if !ok {
		fmt.Println("reconciliation: ratio below 0.5 (README, \"Reconciliation\": where the time goes)")
		if strict {
			return fmt.Errorf("ratio below 0.5")
		}
	}
	return nil
}

// forget removes every reconciliation of the bench's database, so the next run is a first.
func forget(ctx context.Context, sqlDB *sql.DB) error {
	for _, t := range []string{"recon_fee_chunks", "recon_discrepancies", "recon_files", "reconciliations"} {
		if _, err := sqlDB.ExecContext(ctx, "DELETE FROM "+t); err != nil {
			return err
		}
	}
	return nil
}

// measure runs fn after a GC and samples the heap while it runs: wall time and peak heap in use.
func measure(fn func() error) (time.Duration, uint64, error) {
	runtime.GC()
	var peak atomic.Uint64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	start := time.Now()
	err := fn()
	d := time.Since(start)
	close(stop)
	<-done
	return d, peak.Load(), err
}

func outTradeNo(ch payment.Channel, i int) string {
	if ch == payment.ChannelAlipayQR {
		return fmt.Sprintf("PSA%016d", i)
	}
	return fmt.Sprintf("PSW%016d", i)
}

func amountOf(i int) money.Fen { return money.Fen(100 + i%99_900) }

func paidAt(i, n int) time.Time {
	return day.Start.Add(time.Duration(int64(i) * int64(24*time.Hour) / int64(n+1)))
}

// seed inserts n SUCCEEDED payments of ch paid within the day, in multi-row batches.
func seed(ctx context.Context, sqlDB *sql.DB, ch payment.Channel, n int) error {
	const batch = 2000
	base := time.Now().UnixNano() / 1000 * 1000
	if ch == payment.ChannelWechatNative {
		base += int64(n) * 10
	}
	for start := 0; start < n; start += batch {
		end := min(start+batch, n)
		var q strings.Builder
		q.WriteString("INSERT INTO payments (id, order_id, user_id, channel, out_trade_no, amount_fen, status, expire_at, provider_trade_no, paid_at, items, created_at, updated_at) VALUES ")
		args := make([]any, 0, (end-start)*13)
		for i := start; i < end; i++ {
			if i > start {
				q.WriteByte(',')
			}
			q.WriteString("(?,?,?,?,?,?,?,?,?,?,?,?,?)")
			at := paidAt(i, n).UTC()
			args = append(args, base+int64(i), base+int64(i), "bench", string(ch), outTradeNo(ch, i), int64(amountOf(i)),
				string(payment.StatusSucceeded), at.Add(time.Hour), "T"+strconv.Itoa(i), at, "[]", at.Add(-time.Minute), at)
		}
		if _, err := sqlDB.ExecContext(ctx, q.String(), args...); err != nil {
			return err
		}
	}
	return nil
}

func feeOf(a money.Fen) money.Fen { return (a*6 + 500) / 1000 }

// memBill is a provider's bill served from memory: the raw file as downloaded, parsed by the
// same readers the channels use.
type memBill struct {
	ch  payment.Channel
	n   int
	raw app.RawBill
}

func newMemBill(ch payment.Channel, n int) (*memBill, error) {
	b := &memBill{ch: ch, n: n}
	var err error
	if ch == payment.ChannelAlipayQR {
		b.raw, err = alipayFile(n)
	} else {
		b.raw, err = wechatFile(n)
	}
	return b, err
}

func (b *memBill) FetchBill(context.Context, recon.Day) (app.RawBill, error) { return b.raw, nil }

func (b *memBill) ParseBill(raw app.RawBill, fn func(recon.Row) error) (recon.Totals, error) {
	if b.ch == payment.ChannelAlipayQR {
		return bill.ParseAlipay(bytes.NewReader(raw.Body), int64(len(raw.Body)), fn)
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw.Body))
	if err != nil {
		return recon.Totals{}, err
	}
	return bill.ParseWechat(zr, fn)
}

// anchor reads and parses the file and compares every row with an in-memory ledger.
func (b *memBill) anchor() error {
	ledger := make(map[string]money.Fen, b.n)
	for i := 0; i < b.n; i++ {
		ledger[outTradeNo(b.ch, i)] = amountOf(i)
	}
	mismatched := 0
	_, err := b.ParseBill(b.raw, func(r recon.Row) error {
		if a, ok := ledger[r.OutTradeNo]; !ok || a != r.Amount {
			mismatched++
		}
		return nil
	})
	if err == nil && mismatched > 0 {
		err = fmt.Errorf("anchor: %d rows mismatched", mismatched)
	}
	return err
}

const timeLayout = "2006-01-02 15:04:05"

// alipayFile is a trade bill zip as Alipay serves it: GBK detail + summary with comment lines.
func alipayFile(n int) (app.RawBill, error) {
	var d bytes.Buffer
	w := csv.NewWriter(&d)
	w.UseCRLF = true
	line := func(s string) { w.Flush(); d.WriteString(s + "\r\n") }
	line("#支付宝业务明细查询")
	line("#账号：[20880000000000000156]")
	line("#-----------------------------------------业务明细列表----------------------------------------")
	_ = w.Write(strings.Split("支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,门店编号,门店名称,操作员,终端号,对方账户,订单金额（元）,商家实收（元）,支付宝红包（元）,集分宝（元）,支付宝优惠（元）,商家优惠（元）,券核销金额（元）,券名称,商家红包消费金额（元）,卡消费金额（元）,退款批次号/请求号,服务费（元）,分润（元）,备注", ","))
	var paid, fees money.Fen
	for i := 0; i < n; i++ {
		a, at := amountOf(i), paidAt(i, n).In(recon.Shanghai).Format(timeLayout)
		paid, fees = paid+a, fees+feeOf(a)
		_ = w.Write([]string{fmt.Sprintf("2026%024d\t", i), outTradeNo(payment.ChannelAlipayQR, i) + "\t", "交易", "paysuite order", at, at,
			"", "", "", "", "*买家(b***@example.com)", a.Yuan(), a.Yuan(), "0.00", "0.00", "0.00", "0.00", "0.00", "", "0.00", "0.00", "",
			(-feeOf(a)).Yuan(), "0.00", ""})
	}
	line("#-----------------------------------------业务明细列表结束------------------------------------")
	line(fmt.Sprintf("#交易合计：%d笔，商家实收共%s元，商家优惠共0.00元", n, paid.Yuan()))
	line("#退款合计：0笔，商家实收退款共0.00元，商家优惠退款共0.00元")
	w.Flush()
	sum := fmt.Sprintf("%d,0,%s,%s,0.00,0.00,0.00,%s,0.00,%s", n, paid.Yuan(), paid.Yuan(), (-fees).Yuan(), (paid - fees).Yuan())
	summary := "#支付宝业务汇总查询\r\n门店编号,门店名称,交易订单总笔数,退款订单总笔数,订单金额（元）,商家实收（元）,支付宝优惠（元）,商家优惠（元）,卡消费金额（元）,服务费（元）,分润（元）,实收净额（元）\r\n" +
		",," + sum + "\r\n合计,," + sum + "\r\n"
	var z bytes.Buffer
	zw := zip.NewWriter(&z)
	enc := simplifiedchinese.GBK.NewEncoder()
	for _, f := range [][2]string{{"20880000000000000156_20260101_业务明细.csv", d.String()}, {"20880000000000000156_20260101_业务明细(汇总).csv", summary}} {
		name, err := enc.String(f[0])
		if err != nil {
			return app.RawBill{}, err
		}
		body, err := enc.String(f[1])
		if err != nil {
			return app.RawBill{}, err
		}
		fw, err := zw.CreateHeader(&zip.FileHeader{Name: name, NonUTF8: true, Method: zip.Deflate})
		if err != nil {
			return app.RawBill{}, err
		}
		if _, err := io.WriteString(fw, body); err != nil {
			return app.RawBill{}, err
		}
	}
	if err := zw.Close(); err != nil {
		return app.RawBill{}, err
	}
	return app.RawBill{Name: "alipay.csv.zip", Body: z.Bytes()}, nil
}

// wechatFile is an ALL trade bill as WeChat serves it (gzip), with its SHA1.
func wechatFile(n int) (app.RawBill, error) {
	var d bytes.Buffer
	d.WriteString("\uFEFF交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注\r\n")
	var paid, fees money.Fen
	for i := 0; i < n; i++ {
		a, at := amountOf(i), paidAt(i, n).In(recon.Shanghai).Format(timeLayout)
		paid, fees = paid+a, fees+feeOf(a)
		fmt.Fprintf(&d, "`%s,`wx0000000000000000,`1900000000,`0,`,`42%030d,`%s,`oUser000000000000000000000,`NATIVE,`SUCCESS,`OTHERS,`CNY,`%s,`0.00,`0,`0,`0.00,`0.00,`,`,`paysuite order,`,`%s000,`0.60%%,`%s,`0.00,`\r\n",
			at, i, outTradeNo(payment.ChannelWechatNative, i), a.Yuan(), feeOf(a).Yuan(), a.Yuan())
	}
	d.WriteString("总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额\r\n")
	fmt.Fprintf(&d, "`%d,`%s,`0.00,`0.00,`%s000,`%s,`0.00\r\n", n, paid.Yuan(), fees.Yuan(), paid.Yuan())
	sum := sha1.Sum(d.Bytes())
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	if _, err := zw.Write(d.Bytes()); err != nil {
		return app.RawBill{}, err
	}
	if err := zw.Close(); err != nil {
		return app.RawBill{}, err
	}
	return app.RawBill{Name: "wechat.csv.gz", Body: z.Bytes(), Hash: hex.EncodeToString(sum[:])}, nil
}
