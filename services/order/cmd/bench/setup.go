package main

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// freshVhost makes a vhost for this run through the management API and returns the URL on it.
func freshVhost(amqpURL, mgmt, name string) (string, func(), error) {
	u, err := url.Parse(amqpURL)
	if err != nil {
		return "", nil, err
	}
	user := u.User.Username()
	pass, _ := u.User.Password()
	call := func(method, path, body string) error {
		req, err := http.NewRequest(method, mgmt+path, strings.NewReader(body))
		if err != nil {
			return err
		}
		req.SetBasicAuth(user, pass)
		req.Header.Set("Content-Type", "application/json")
		resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode >= 300 {
			return fmt.Errorf("%s %s: HTTP %d", method, path, resp.StatusCode)
		}
		return nil
	}
	if err := call(http.MethodPut, "/api/vhosts/"+name, ""); err != nil {
		return "", nil, err
	}
	cleanup := func() {
		if err := call(http.MethodDelete, "/api/vhosts/"+name, ""); err != nil {
			fmt.Fprintln(os.Stderr, "delete vhost:", err)
		}
	}
	if err := call(http.MethodPut, "/api/permissions/"+name+"/"+url.PathEscape(user), `{"configure":".*","write":".*","read":".*"}`); err != nil {
		cleanup()
		return "", nil, err
	}
	u.Path = "/" + name
	return u.String(), cleanup, nil
}

func waitHealthy(ctx context.Context, conn *grpc.ClientConn, done <-chan error) error {
	health := healthpb.NewHealthClient(conn)
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-done:
			return fmt.Errorf("service stopped: %v", err)
		default:
		}
		c, cancel := context.WithTimeout(ctx, time.Second)
		resp, err := health.Check(c, &healthpb.HealthCheckRequest{})
		cancel()
		if err == nil && resp.GetStatus() == healthpb.HealthCheckResponse_SERVING {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("service not healthy after 60s")
}

func seed(ctx context.Context, sqlDB *sql.DB, stock map[string]int64) error {
	ids := make([]string, 0, len(stock))
	for id := range stock {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for chunk := range slices.Chunk(ids, 500) {
		var q strings.Builder
		q.WriteString("INSERT INTO skus (sku_id, title, kind, price_fen, stock) VALUES ")
		args := []any{}
		for i, id := range chunk {
			if i > 0 {
				q.WriteString(", ")
			}
			q.WriteString("(?, ?, 'GOODS', ?, ?)")
			args = append(args, id, "bench "+id, 100+i, stock[id])
		}
		if _, err := sqlDB.ExecContext(ctx, q.String(), args...); err != nil {
			return fmt.Errorf("seed: %w", err)
		}
	}
	return nil
}

// checkNoOversell: for every SKU, units sold plus stock left equals the initial stock, and no
// stock is negative.
func checkNoOversell(ctx context.Context, sqlDB *sql.DB, initial map[string]int64) error {
	rows, err := sqlDB.QueryContext(ctx, `SELECT s.sku_id, s.stock, COALESCE(SUM(i.quantity), 0)
		FROM skus s LEFT JOIN order_items i ON i.sku_id = s.sku_id GROUP BY s.sku_id, s.stock`)
	if err != nil {
		return err
	}
	defer rows.Close()
	bad, checked := 0, 0
	for rows.Next() {
		var id string
		var stock, sold int64
		if err := rows.Scan(&id, &stock, &sold); err != nil {
			return err
		}
		want, ok := initial[id]
		if !ok {
			continue // the seeded sample catalog
		}
		checked++
		if stock < 0 || stock+sold != want {
			bad++
			fmt.Printf("OVERSOLD %s: initial %d, sold %d, left %d\n", id, want, sold, stock)
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if bad > 0 {
		return fmt.Errorf("%d SKUs oversold", bad)
	}
	fmt.Printf("oversold check: 0 of %d SKUs oversold (sold + left = initial, no negative stock)\n", checked)
	return nil
}
