package access

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"time"
)

// BrokerAdmin changes vhosts, users and permissions of a RabbitMQ broker: through its
// management API when that answers, else with rabbitmqctl on this machine.
type BrokerAdmin struct {
	api  string // management API base; empty: rabbitmqctl
	user string
	pass string
}

// NewBrokerAdmin returns the admin of the broker at adminURL (an amqp:// URL whose user may
// manage vhosts and users). The management API is AMQP_MANAGEMENT_URL, else
// http://<broker host>:15672.
func NewBrokerAdmin(adminURL string) (*BrokerAdmin, error) {
	u, err := url.Parse(adminURL)
	if err != nil {
		return nil, fmt.Errorf("broker admin URL: %w", err)
	}
	pass, _ := u.User.Password()
	a := &BrokerAdmin{user: u.User.Username(), pass: pass}
	api := os.Getenv("AMQP_MANAGEMENT_URL")
	if api == "" {
		api = "http://" + u.Hostname() + ":15672"
	}
	api = strings.TrimSuffix(api, "/")
	req, _ := http.NewRequest(http.MethodGet, api+"/api/overview", nil)
	req.SetBasicAuth(a.user, a.pass)
	if resp, err := (&http.Client{Timeout: 2 * time.Second}).Do(req); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			a.api = api
		}
	}
	return a, nil
}

// CreateVhost creates vhost and gives the admin user every permission in it.
func (a *BrokerAdmin) CreateVhost(ctx context.Context, vhost string) error {
	if a.api == "" {
		if err := rabbitmqctl(ctx, "add_vhost", vhost); err != nil {
			return fmt.Errorf("%w (is RabbitMQ running? or enable rabbitmq_management)", err)
		}
		return rabbitmqctl(ctx, "set_permissions", "-p", vhost, a.user, ".*", ".*", ".*")
	}
	if err := a.do(ctx, http.MethodPut, "/api/vhosts/"+url.PathEscape(vhost), nil); err != nil {
		return err
	}
	return a.SetPermissions(ctx, vhost, a.user, BrokerPermissions{Configure: ".*", Write: ".*", Read: ".*"})
}

// DeleteVhost deletes vhost with everything in it.
func (a *BrokerAdmin) DeleteVhost(ctx context.Context, vhost string) error {
	if a.api == "" {
		return rabbitmqctl(ctx, "delete_vhost", vhost)
	}
	return a.do(ctx, http.MethodDelete, "/api/vhosts/"+url.PathEscape(vhost), nil)
}

// EnsureUser creates user (or resets its password), with no tags: it cannot use the
// management API, and cannot impersonate other users in user_id.
func (a *BrokerAdmin) EnsureUser(ctx context.Context, user, password string) error {
	if err := checkCredentials(user, password); err != nil {
		return err
	}
	if a.api == "" {
		if err := rabbitmqctl(ctx, "add_user", user, password); err != nil && !strings.Contains(err.Error(), "already exists") {
			return err
		}
		if err := rabbitmqctl(ctx, "change_password", user, password); err != nil {
			return err
		}
		return rabbitmqctl(ctx, "set_user_tags", user)
	}
	return a.do(ctx, http.MethodPut, "/api/users/"+url.PathEscape(user), map[string]string{"password": password, "tags": ""})
}

// SetPermissions sets user's permissions in vhost, replacing any it had there.
func (a *BrokerAdmin) SetPermissions(ctx context.Context, vhost, user string, p BrokerPermissions) error {
	if a.api == "" {
		return rabbitmqctl(ctx, "set_permissions", "-p", vhost, user, p.Configure, p.Write, p.Read)
	}
	return a.do(ctx, http.MethodPut, "/api/permissions/"+url.PathEscape(vhost)+"/"+url.PathEscape(user), p)
}

// DeleteUser deletes user (and its permissions everywhere).
func (a *BrokerAdmin) DeleteUser(ctx context.Context, user string) error {
	if a.api == "" {
		return rabbitmqctl(ctx, "delete_user", user)
	}
	return a.do(ctx, http.MethodDelete, "/api/users/"+url.PathEscape(user), nil)
}

func rabbitmqctl(ctx context.Context, args ...string) error {
	out, err := exec.CommandContext(ctx, "rabbitmqctl", append([]string{"-q"}, args...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("rabbitmqctl %s: %v: %s", args[0], err, bytes.TrimSpace(out))
	}
	return nil
}

func (a *BrokerAdmin) do(ctx context.Context, method, path string, body any) error {
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return err
		}
	}
	req, err := http.NewRequestWithContext(ctx, method, a.api+path, bytes.NewReader(payload))
	if err != nil {
		return err
	}
	req.SetBasicAuth(a.user, a.pass)
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		return fmt.Errorf("RabbitMQ management %s %s: HTTP %d", method, path, resp.StatusCode)
	}
	return nil
}

// Get reads path (e.g. "/api/queues/<vhost>") from the management API into out; it fails when
// only rabbitmqctl is available. The load and chaos harnesses read queue depths and message
// counts with it.
func (a *BrokerAdmin) Get(ctx context.Context, path string, out any) error {
	if a.api == "" {
		return fmt.Errorf("RabbitMQ management API not available (AMQP_MANAGEMENT_URL)")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.api+path, nil)
	if err != nil {
		return err
	}
	req.SetBasicAuth(a.user, a.pass)
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		return fmt.Errorf("RabbitMQ management GET %s: HTTP %d", path, resp.StatusCode)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// QueueDepths is the number of messages (ready and unacknowledged) in every queue of vhost:
// through the management API when it answers, else rabbitmqctl.
func (a *BrokerAdmin) QueueDepths(ctx context.Context, vhost string) (map[string]int, error) {
	var queues []struct {
		Name     string `json:"name"`
		Messages int    `json:"messages"`
	}
	if a.api != "" {
		if err := a.Get(ctx, "/api/queues/"+url.PathEscape(vhost), &queues); err != nil {
			return nil, err
		}
	} else {
		out, err := exec.CommandContext(ctx, "rabbitmqctl", "-q", "list_queues", "-p", vhost, "name", "messages",
			"--formatter", "json").Output()
		if err != nil {
			return nil, fmt.Errorf("rabbitmqctl list_queues: %w", err)
		}
		if err := json.Unmarshal(out, &queues); err != nil {
			return nil, fmt.Errorf("rabbitmqctl list_queues: %w", err)
		}
	}
	depths := make(map[string]int, len(queues))
	for _, q := range queues {
		depths[q.Name] = q.Messages
	}
	return depths, nil
}

// HasAPI reports whether the management API answers (message statistics need it).
func (a *BrokerAdmin) HasAPI() bool { return a.api != "" }
