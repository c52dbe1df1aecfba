package loadgen

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/paysuite/paysuite/pkg/access"
)

// Cost is a reading of what the suite has spent so far: CPU per process, database statements of
// the suite's own MariaDB users, broker messages in its vhost.
type Cost struct {
	CPUms      map[string]float64 // process -> CPU ms (user + system) since it started
	Statements int64              // SELECT + UPDATE + OTHER commands of the suite's users (userstat)
	Questions  int64              // the server's global Questions (shared with anything else on it)
	Published  int64              // messages published in the vhost
	Delivered  int64              // messages delivered or got in the vhost
	// FromOutboxes: Published counts the outboxes' published rows (no management API);
	// Delivered is then unknown.
	FromOutboxes bool
}

// Meter reads Costs.
type Meter struct {
	Pids      func() map[string]int // the suite's processes
	AdminDSN  string                // MariaDB as the admin
	UserLike  string                // the suite's users: a LIKE pattern (e.g. "psload_ab12_%")
	AdminAMQP string
	Vhost     string
	// ServiceDSNs are the services' database names, for counting outbox rows when the broker's
	// management API is off.
	ServiceDSNs []string
	// Servers also meters the database and broker processes (mariadbd, beam.smp) found in /proc:
	// on a private instance that is the suite's cost; on a shared one it includes other users.
	Servers bool
}

// EnableStatements turns on MariaDB's per-user statement counters (userstat), a statistics switch
// with no effect on queries; without it only the global Questions count is available.
func (m *Meter) EnableStatements(ctx context.Context) error {
	db, err := sql.Open("mysql", m.AdminDSN)
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.ExecContext(ctx, "SET GLOBAL userstat = 1")
	return err
}

// Read takes a reading. Processes that died since the last reading (chaos) are carried by the
// caller: CPU of a killed process is lost with it, so chaos runs report CPU only as a lower bound.
func (m *Meter) Read(ctx context.Context) (Cost, error) {
	c := Cost{CPUms: map[string]float64{}}
	for name, pid := range m.Pids() {
		if ms, err := procCPUms(pid); err == nil {
			c.CPUms[name] = ms
		}
	}
	if m.Servers {
		for name, comm := range map[string]string{"mariadb": "mariadbd", "rabbitmq": "beam.smp"} {
			for _, pid := range pidsNamed(comm) {
				if ms, err := procCPUms(pid); err == nil {
					c.CPUms[name] += ms
				}
			}
		}
	}
	db, err := sql.Open("mysql", m.AdminDSN)
	if err != nil {
		return c, err
	}
	defer db.Close()
	var name string
	if err := db.QueryRowContext(ctx, "SHOW GLOBAL STATUS LIKE 'Questions'").Scan(&name, &c.Questions); err != nil {
		return c, err
	}
	_ = db.QueryRowContext(ctx, `SELECT COALESCE(SUM(SELECT_COMMANDS + UPDATE_COMMANDS + OTHER_COMMANDS), 0)
		FROM information_schema.USER_STATISTICS WHERE USER LIKE ?`, m.UserLike).Scan(&c.Statements)
	if m.AdminAMQP != "" {
		admin, err := access.NewBrokerAdmin(m.AdminAMQP)
		if err != nil {
			return c, err
		}
		if !admin.HasAPI() {
			// No management API (its plugin is off): what the outboxes handed to the broker.
			c.FromOutboxes = true
			for _, dsn := range m.ServiceDSNs {
				var n int64
				if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+dsn+".outbox_messages WHERE published_at IS NOT NULL").Scan(&n); err == nil {
					c.Published += n
				}
			}
			return c, nil
		}
		var vh struct {
			Stats struct {
				Publish    int64 `json:"publish"`
				DeliverGet int64 `json:"deliver_get"`
			} `json:"message_stats"`
		}
		if err := admin.Get(ctx, "/api/vhosts/"+url.PathEscape(m.Vhost), &vh); err != nil {
			return c, err
		}
		c.Published, c.Delivered = vh.Stats.Publish, vh.Stats.DeliverGet
	}
	return c, nil
}

// Sub is c − before, process by process (a process restarted in between counts from zero).
func (c Cost) Sub(before Cost) Cost {
	d := Cost{CPUms: map[string]float64{}, Statements: c.Statements - before.Statements,
		Questions: c.Questions - before.Questions, Published: c.Published - before.Published, Delivered: c.Delivered - before.Delivered,
		FromOutboxes: c.FromOutboxes}
	for name, ms := range c.CPUms {
		if b, ok := before.CPUms[name]; ok && b <= ms {
			ms -= b
		}
		d.CPUms[name] = ms
	}
	return d
}

// TotalCPUms is the CPU of every metered process.
func (c Cost) TotalCPUms() float64 {
	t := 0.0
	for _, ms := range c.CPUms {
		t += ms
	}
	return t
}

// clockTick is USER_HZ, 100 on every Linux this runs on (getconf CLK_TCK).
const clockTick = 100

// ProcessCPUms is utime + stime of pid in ms (the anchors' CPU per call).
func ProcessCPUms(pid int) (float64, error) { return procCPUms(pid) }

// procCPUms is utime + stime of pid in ms, from /proc/<pid>/stat.
func procCPUms(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces: fields are counted after its closing ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 { // f[0] is field 3 (state); utime is field 14, stime 15
		return 0, fmt.Errorf("/proc/%d/stat: too few fields", pid)
	}
	ut, err1 := strconv.ParseFloat(f[11], 64)
	st, err2 := strconv.ParseFloat(f[12], 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: bad times", pid)
	}
	return (ut + st) * 1000 / clockTick, nil
}

func pidsNamed(comm string) []int {
	matches, _ := filepath.Glob("/proc/[0-9]*/comm")
	var out []int
	for _, p := range matches {
		b, err := os.ReadFile(p)
		if err != nil || strings.TrimSpace(string(b)) != comm {
			continue
		}
		if pid, err := strconv.Atoi(filepath.Base(filepath.Dir(p))); err == nil {
			out = append(out, pid)
		}
	}
	return out
}
