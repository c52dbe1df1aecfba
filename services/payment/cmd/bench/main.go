// Command bench measures verified notifies handled per second — the full path: Alipay RSA2
// signature check, our app id, trade lookup and amount check, the conditional WAITING→SUCCEEDED
// with its notify-log row, mark-order-paid task and outbox event in one transaction, and the
// answer — against the bare cost of one RSA verify plus the same conditional UPDATE, in one run
// on the same database. It prints both rates and their ratio (goal ≥ 0.7).
//
//	go run ./services/payment/cmd/bench [-n 2000] [-c 16]   (MYSQL_DSN as for the services)
package main

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"database/sql"
	"encoding/base64"
	"encoding/pem"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	gomysql "github.com/go-sql-driver/mysql"

	"github.com/paysuite/paysuite/pkg/amqpx"
	"github.com/paysuite/paysuite/pkg/db"
	"github.com/paysuite/paysuite/pkg/ids"
	"github.com/paysuite/paysuite/pkg/money"
	"github.com/paysuite/paysuite/services/payment/internal/adapters/channel"
	"github.com/paysuite/paysuite/services/payment/internal/adapters/events"
	"github.com/paysuite/paysuite/services/payment/internal/adapters/mysql"
	"github.com/paysuite/paysuite/services/payment/internal/app"
	"github.com/paysuite/paysuite/services/payment/internal/domain/payment"
	httpport "github.com/paysuite/paysuite/services/payment/internal/ports/http"
)

const appID = "2021000000000001"

func main() {
	n := flag.Int("n", 2000, "notifies per measured pass")
	c := flag.Int("c", 16, "concurrent senders")
	flag.Parse()
	if err := run(*n, *c); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(n, conc int) error {
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	if os.Getenv("BENCH_DEBUG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	dsn := os.Getenv("MYSQL_DSN")
	if dsn == "" {
		dsn = db.DefaultDSN
	}
	base, err := gomysql.ParseDSN(dsn)
	if err != nil {
		return err
	}
	base.DBName = fmt.Sprintf("pst_bench_%d", time.Now().UnixNano()%1e9)
	gdb, err := db.OpenWithPool(ctx, base.FormatDSN(), "payment", mysql.Migrations(), log, db.Pool{MaxOpen: min(conc*2, 64)})
	if err != nil {
		return err
	}
	sqlDB, _ := gdb.DB()
	defer dropDatabase(base, sqlDB)
	if err := amqpx.MigrateOutbox(ctx, gdb, log); err != nil {
		return err
	}

	platform, err := rsa.GenerateKey(rand.Reader, 2048) // Alipay's key: signs notifies
	if err != nil {
		return err
	}
	appKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	ali, err := channel.NewAlipay(channel.AlipayConfig{AppID: appID, AppPrivateKey: pemOf("PRIVATE KEY", appKey), AlipayPublicKey: pubPEM(&platform.PublicKey)})
	if err != nil {
		return err
	}
	node, _ := ids.NewNode(7)
	repo := mysql.NewRepository(gdb, events.NewOutbox(gdb))
	a := app.New(app.Config{ProviderTradeTimeout: 25 * time.Minute}, repo, nil,
		map[payment.Channel]app.Channel{payment.ChannelAlipayQR: ali}, idGen{func() int64 { return node.Generate().Int64() }}, log)
	handler := httpport.Handler(a)

	fmt.Printf("payment notify benchmark: %d notifies per pass, %d concurrent, MariaDB %s\n", n, conc, base.Addr)
	// Warm up both paths (connections, buffer pool), then measure.
	if _, err := fullPass(ctx, repo, handler, platform, min(n/4, 200), conc); err != nil {
		return err
	}
	if _, err := barePass(ctx, repo, sqlDB, platform, min(n/4, 200), conc); err != nil {
		return err
	}
	full, err := fullPass(ctx, repo, handler, platform, n, conc)
	if err != nil {
		return err
	}
	bare, err := barePass(ctx, repo, sqlDB, platform, n, conc)
	if err != nil {
		return err
	}
	fmt.Printf("  full notify path  (HTTP handler → verify → tx: notify log + conditional update + task + outbox → answer): %8.0f /s\n", full)
	fmt.Printf("  bare              (RSA2 verify + UPDATE … WHERE id=? AND status='WAITING')                              : %8.0f /s\n", bare)
	fmt.Printf("  ratio full/bare: %.2f (goal >= 0.70)\n", full/bare)
	return nil
}

type idGen struct{ next func() int64 }

func (g idGen) Next() int64 { return g.next() }

// seed stores n WAITING payments and returns them.
func seed(ctx context.Context, repo *mysql.Repository, n int) ([]*payment.Payment, error) {
	out := make([]*payment.Payment, n)
	now := time.Now()
	for i := range out {
		id := now.UnixNano() + int64(i)
		p, err := payment.New(id, id, "bench", payment.ChannelAlipayQR, fmt.Sprintf("PSB%d", id), money.Fen(100+i%900), now.Add(time.Hour), now, nil)
		if err != nil {
			return nil, err
		}
		if _, _, err := repo.CreatePayment(ctx, p, app.Changes{}); err != nil {
			return nil, err
		}
		out[i] = p
	}
	return out, nil
}

// fullPass posts one signed TRADE_SUCCESS notify per payment through the HTTP handler.
func fullPass(ctx context.Context, repo *mysql.Repository, h http.Handler, key *rsa.PrivateKey, n, conc int) (float64, error) {
	ps, err := seed(ctx, repo, n)
	if err != nil {
		return 0, err
	}
	bodies := make([]string, n)
	for i, p := range ps {
		bodies[i] = signedNotify(key, p)
	}
	var failed atomic.Int64
	rate := parallel(n, conc, func(i int) {
		req := httptest.NewRequest(http.MethodPost, "/notify/alipay", strings.NewReader(bodies[i]))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Body.String() != "success" {
			failed.Add(1)
		}
	})
	if f := failed.Load(); f > 0 {
		return 0, fmt.Errorf("%d notifies were not acknowledged", f)
	}
	return rate, nil
}

// barePass: RSA verify of the same signed content plus the conditional update, nothing else.
func barePass(ctx context.Context, repo *mysql.Repository, sqlDB *sql.DB, key *rsa.PrivateKey, n, conc int) (float64, error) {
	ps, err := seed(ctx, repo, n)
	if err != nil {
		return 0, err
	}
	type item struct {
		content string
		sig     []byte
	}
	items := make([]item, n)
	for i, p := range ps {
		content := signContent(fields(p))
		items[i] = item{content, sign(key, content)}
	}
	var failed atomic.Int64
	rate := parallel(n, conc, func(i int) {
		sum := sha256.Sum256([]byte(items[i].content))
		if rsa.VerifyPKCS1v15(&key.PublicKey, crypto.SHA256, sum[:], items[i].sig) != nil {
			failed.Add(1)
			return
		}
		res, err := sqlDB.ExecContext(ctx, "UPDATE payments SET status = 'SUCCEEDED', live_key = NULL, paid_at = ?, updated_at = ? WHERE id = ? AND status = 'WAITING'",
			time.Now().UTC(), time.Now().UTC(), ps[i].ID)
		if err != nil {
			failed.Add(1)
			return
		}
		if k, _ := res.RowsAffected(); k != 1 {
			failed.Add(1)
		}
	})
	if f := failed.Load(); f > 0 {
		return 0, fmt.Errorf("%d bare updates failed", f)
	}
	return rate, nil
}

func parallel(n, conc int, fn func(i int)) float64 {
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				fn(i)
			}
		}()
	}
	wg.Wait()
	return float64(n) / time.Since(start).Seconds()
}

func fields(p *payment.Payment) map[string]string {
	now := time.Now().In(time.FixedZone("CST", 8*3600)).Format("2006-01-02 15:04:05")
	y := p.Amount.Yuan()
	return map[string]string{
		"notify_time": now, "notify_type": "trade_status_sync", "notify_id": "nb" + p.OutTradeNo, "charset": "utf-8",
		"version": "1.0", "app_id": appID, "trade_no": "T" + p.OutTradeNo, "out_trade_no": p.OutTradeNo,
		"buyer_id": "2088000000000001", "trade_status": "TRADE_SUCCESS", "total_amount": y, "receipt_amount": y,
		"subject": "bench", "gmt_create": now, "gmt_payment": now,
	}
}

func signContent(f map[string]string) string {
	keys := make([]string, 0, len(f))
	for k := range f {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + f[k]
	}
	return strings.Join(parts, "&")
}

func sign(key *rsa.PrivateKey, content string) []byte {
	sum := sha256.Sum256([]byte(content))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		panic(err)
	}
	return sig
}

func signedNotify(key *rsa.PrivateKey, p *payment.Payment) string {
	f := fields(p)
	v := url.Values{}
	for k, s := range f {
		v.Set(k, s)
	}
	v.Set("sign_type", "RSA2")
	v.Set("sign", base64.StdEncoding.EncodeToString(sign(key, signContent(f))))
	return v.Encode()
}

func pemOf(kind string, k *rsa.PrivateKey) string {
	der, _ := x509.MarshalPKCS8PrivateKey(k)
	return string(pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}))
}

func pubPEM(k *rsa.PublicKey) string {
	der, _ := x509.MarshalPKIXPublicKey(k)
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

func dropDatabase(cfg *gomysql.Config, sqlDB *sql.DB) {
	name := cfg.DBName + "_payment"
	if _, err := sqlDB.Exec("DROP DATABASE IF EXISTS `" + name + "`"); err != nil {
		fmt.Fprintln(os.Stderr, "drop", name, err)
	}
	sqlDB.Close()
}
