// Command bench measures verified notifies handled per second — the full path: Alipay RSA2
// signature check, our app id, trade lookup and amount check, the conditional WAITING→SUCCEEDED
// with its notify-log row (the raw body) and outbox event in one transaction, and the answer —
// against the bare cost of one RSA verify plus the same conditional UPDATE, in one run
// on the same database. It prints both rates and their ratio (goal ≥ 0.7).
//
// The passes alternate (-rounds of full then bare, summed) so that load from anything else on
// the machine (another bench, a test run) falls on both sides alike.
//
//	go run ./services/payment/cmd/bench [-n 2000] [-c 16] [-rounds 3] [-stats]
//	    [-cpuprofile f] [-mutexprofile f] [-blockprofile f]   (MYSQL_DSN as for the services)
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
	"runtime"
	"runtime/pprof"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
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
	rounds := flag.Int("rounds", 3, "alternating full/bare rounds; each pass sends n/rounds notifies")
	stats := flag.Bool("stats", false, "print MariaDB counters (statements, commits, fsyncs, row-lock waits) per pass")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the measured passes to this file")
	mutexProfile := flag.String("mutexprofile", "", "write a mutex contention profile to this file")
	blockProfile := flag.String("blockprofile", "", "write a blocking profile to this file")
	flag.Parse()
	prof, err := startProfiles(*cpuProfile, *mutexProfile, *blockProfile)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	err = run(*n, *c, max(*rounds, 1), *stats, prof)
	prof.stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(n, conc, rounds int, stats bool, prof *profiles) error {
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
	a := app.New(app.Config{ProviderTradeTimeout: 25 * time.Minute}, app.Deps{
		Payments: repo, Refunds: repo, Notifies: repo, Tasks: repo,
		Channels: map[payment.Channel]app.Channel{payment.ChannelAlipayQR: ali}, NewID: func() int64 { return node.Generate().Int64() },
	}, log)
	handler := httpport.Handler(a)

	fmt.Printf("payment notify benchmark: %d notifies per path in %d alternating rounds, %d concurrent, MariaDB %s\n", n, rounds, conc, base.Addr)
	// Warm up both paths (connections, buffer pool), then measure.
	warm := min(n/4, 200)
	for _, prep := range []func() (pass, error){
		func() (pass, error) { return fullPass(ctx, repo, sqlDB, handler, platform, warm, conc) },
		func() (pass, error) { return barePass(ctx, repo, sqlDB, platform, warm, conc) },
	} {
		p, err := prep()
		if err != nil {
			return err
		}
		if _, _, err := p(); err != nil {
			return err
		}
	}
	// Seed and sign every round first, so that neither the clock nor the profiles see it.
	per := max(n/rounds, 1)
	fulls, bares := make([]pass, rounds), make([]pass, rounds)
	for r := range rounds {
		if fulls[r], err = fullPass(ctx, repo, sqlDB, handler, platform, per, conc); err != nil {
			return err
		}
		if bares[r], err = barePass(ctx, repo, sqlDB, platform, per, conc); err != nil {
			return err
		}
	}
	prof.begin()
	var fullT, bareT time.Duration
	var fullN, bareN int
	var fullS, bareS serverStats
	for r := range rounds {
		d, st, err := fulls[r]()
		if err != nil {
			return err
		}
		fullT, fullN, fullS = fullT+d, fullN+per, fullS.add(st)
		if d, st, err = bares[r](); err != nil {
			return err
		}
		bareT, bareN, bareS = bareT+d, bareN+per, bareS.add(st)
	}
	prof.end()
	full := float64(fullN) / fullT.Seconds()
	bare := float64(bareN) / bareT.Seconds()
	if stats {
		fmt.Printf("  server counters per notify (whole server, so other clients show too):\n")
		fmt.Printf("    full: %s\n    bare: %s\n", fullS.per(fullN), bareS.per(bareN))
	}
	fmt.Printf("  full notify path  (HTTP handler → verify → tx: conditional update + notify log + outbox → answer): %8.0f /s\n", full)
	fmt.Printf("  bare              (RSA2 verify + UPDATE … WHERE id=? AND status='WAITING')                         : %8.0f /s\n", bare)
	fmt.Printf("  ratio full/bare: %.2f (goal >= 0.70)\n", full/bare)
	return nil
}

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

// pass runs one prepared measured pass: its wall time and the server counters it moved.
type pass func() (time.Duration, serverStats, error)

// fullPass posts one signed TRADE_SUCCESS notify per payment through the HTTP handler.
func fullPass(ctx context.Context, repo *mysql.Repository, sqlDB *sql.DB, h http.Handler, key *rsa.PrivateKey, n, conc int) (pass, error) {
	ps, err := seed(ctx, repo, n)
	if err != nil {
		return nil, err
	}
	bodies := make([]string, n)
	for i, p := range ps {
		bodies[i] = signedNotify(key, p)
	}
	return func() (time.Duration, serverStats, error) {
		var failed atomic.Int64
		before := readStats(sqlDB)
		took := parallel(n, conc, func(i int) {
			req := httptest.NewRequest(http.MethodPost, "/notify/alipay", strings.NewReader(bodies[i]))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Body.String() != "success" {
				failed.Add(1)
			}
		})
		if f := failed.Load(); f > 0 {
			return 0, serverStats{}, fmt.Errorf("%d notifies were not acknowledged", f)
		}
		return took, readStats(sqlDB).sub(before), nil
	}, nil
}

// barePass: RSA verify of the same signed content plus the conditional update, nothing else.
func barePass(ctx context.Context, repo *mysql.Repository, sqlDB *sql.DB, key *rsa.PrivateKey, n, conc int) (pass, error) {
	ps, err := seed(ctx, repo, n)
	if err != nil {
		return nil, err
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
	return func() (time.Duration, serverStats, error) {
		var failed atomic.Int64
		before := readStats(sqlDB)
		took := parallel(n, conc, func(i int) {
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
			return 0, serverStats{}, fmt.Errorf("%d bare updates failed", f)
		}
		return took, readStats(sqlDB).sub(before), nil
	}, nil
}

func parallel(n, conc int, fn func(i int)) time.Duration {
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
	return time.Since(start)
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

// serverStats are MariaDB global counters; their deltas over a pass show what one notify costs
// the server.
type serverStats struct {
	questions, commits, fsyncs, lockWaits, lockMs float64
	machineCPU, benchCPU                          time.Duration // all cores busy time; this process's
}

func readStats(sqlDB *sql.DB) serverStats {
	rows, err := sqlDB.Query("SHOW GLOBAL STATUS WHERE Variable_name IN ('Questions','Com_commit','Innodb_data_fsyncs','Innodb_row_lock_waits','Innodb_row_lock_time')")
	if err != nil {
		return serverStats{}
	}
	defer rows.Close()
	var s serverStats
	s.machineCPU, s.benchCPU = machineBusy(), selfCPU()
	for rows.Next() {
		var k string
		var v float64
		if rows.Scan(&k, &v) != nil {
			continue
		}
		switch k {
		case "Questions":
			s.questions = v
		case "Com_commit":
			s.commits = v
		case "Innodb_data_fsyncs":
			s.fsyncs = v
		case "Innodb_row_lock_waits":
			s.lockWaits = v
		case "Innodb_row_lock_time":
			s.lockMs = v
		}
	}
	return s
}

func (s serverStats) sub(o serverStats) serverStats {
	return serverStats{s.questions - o.questions, s.commits - o.commits, s.fsyncs - o.fsyncs, s.lockWaits - o.lockWaits, s.lockMs - o.lockMs,
		s.machineCPU - o.machineCPU, s.benchCPU - o.benchCPU}
}

func (s serverStats) add(o serverStats) serverStats {
	return serverStats{s.questions + o.questions, s.commits + o.commits, s.fsyncs + o.fsyncs, s.lockWaits + o.lockWaits, s.lockMs + o.lockMs,
		s.machineCPU + o.machineCPU, s.benchCPU + o.benchCPU}
}

func (s serverStats) per(n int) string {
	f := float64(n)
	return fmt.Sprintf("statements %.2f, COMMITs %.2f, fsyncs %.2f, row-lock waits %.3f (%.2f ms); CPU µs: machine %.0f, bench process %.0f",
		s.questions/f, s.commits/f, s.fsyncs/f, s.lockWaits/f, s.lockMs/f,
		float64(s.machineCPU.Microseconds())/f, float64(s.benchCPU.Microseconds())/f)
}

// machineBusy is the non-idle time of all cores from /proc/stat (0 where there is none).
func machineBusy() time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	var busy int64
	for i, v := range f[1:] {
		var n int64
		fmt.Sscan(v, &n)
		if i != 3 && i != 4 { // idle, iowait
			busy += n
		}
	}
	return time.Duration(busy) * 10 * time.Millisecond // USER_HZ = 100
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// profiles covers the measured passes only (not seeding or warm-up).
type profiles struct {
	cpu, mutex, block string
	cpuFile           *os.File
}

func startProfiles(cpu, mutex, block string) (*profiles, error) {
	p := &profiles{cpu: cpu, mutex: mutex, block: block}
	if cpu != "" {
		f, err := os.Create(cpu)
		if err != nil {
			return nil, err
		}
		p.cpuFile = f
	}
	return p, nil
}

func (p *profiles) begin() {
	if p.mutex != "" {
		runtime.SetMutexProfileFraction(5)
	}
	if p.block != "" {
		runtime.SetBlockProfileRate(int(time.Microsecond))
	}
	if p.cpuFile != nil {
		_ = pprof.StartCPUProfile(p.cpuFile)
	}
}

func (p *profiles) end() {
	if p.cpuFile != nil {
		pprof.StopCPUProfile()
	}
	for _, w := range []struct{ name, file string }{{"mutex", p.mutex}, {"block", p.block}} {
		if w.file == "" {
			continue
		}
		if f, err := os.Create(w.file); err == nil {
			_ = pprof.Lookup(w.name).WriteTo(f, 0)
			f.Close()
		}
	}
	runtime.SetMutexProfileFraction(0)
	runtime.SetBlockProfileRate(0)
}

func (p *profiles) stop() {
	if p.cpuFile != nil {
		p.cpuFile.Close()
	}
}
