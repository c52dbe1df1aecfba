package scratch

import (
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"time"
)

// Vhost creates vhost name on the broker at amqpURL (through the management API when it
// answers, else rabbitmqctl) and returns the URL pointing at it; drop deletes it.
func Vhost(amqpURL, name string) (vhostURL string, drop func() error, err error) {
	u, err := url.Parse(amqpURL)
	if err != nil {
		return "", nil, err
	}
	admin := managementAPI(u)
	if err := admin.create(name); err != nil {
		return "", nil, fmt.Errorf("create vhost %s: %w", name, err)
	}
	u.Path = "/" + name
	return u.String(), func() error { return admin.delete(name) }, nil
}

type vhostAdmin struct {
	api  string // management API base, empty when not reachable
	user string
	pass string
}

func managementAPI(u *url.URL) vhostAdmin {
	user := u.User.Username()
	pass, _ := u.User.Password()
	api := os.Getenv("AMQP_MANAGEMENT_URL")
	if api == "" {
		api = "http://" + u.Hostname() + ":15672"
	}
	a := vhostAdmin{user: user, pass: pass}
	req, _ := http.NewRequest(http.MethodGet, api+"/api/overview", nil)
	req.SetBasicAuth(user, pass)
	client := http.Client{Timeout: 2 * time.Second}
	if resp, err := client.Do(req); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			a.api = api
		}
	}
	return a
}

func (a vhostAdmin) create(vhost string) error {
	if a.api == "" {
		if out, err := exec.Command("rabbitmqctl", "-q", "add_vhost", vhost).CombinedOutput(); err != nil {
			return fmt.Errorf("rabbitmqctl add_vhost (is RabbitMQ running? or enable rabbitmq_management): %v: %s", err, out)
		}
		out, err := exec.Command("rabbitmqctl", "-q", "set_permissions", "-p", vhost, a.user, ".*", ".*", ".*").CombinedOutput()
		if err != nil {
			return fmt.Errorf("rabbitmqctl set_permissions: %v: %s", err, out)
		}
		return nil
	}
	if err := a.do(http.MethodPut, "/api/vhosts/"+url.PathEscape(vhost), ""); err != nil {
		return err
	}
	return a.do(http.MethodPut, "/api/permissions/"+url.PathEscape(vhost)+"/"+url.PathEscape(a.user),
		`{"configure":".*","write":".*","read":".*"}`)
}

func (a vhostAdmin) delete(vhost string) error {
	if a.api == "" {
		out, err := exec.Command("rabbitmqctl", "-q", "delete_vhost", vhost).CombinedOutput()
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	}
	return a.do(http.MethodDelete, "/api/vhosts/"+url.PathEscape(vhost), "")
}

func (a vhostAdmin) do(method, path, body string) error {
	req, err := http.NewRequest(method, a.api+path, strings.NewReader(body))
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
		return fmt.Errorf("%s %s: HTTP %d", method, path, resp.StatusCode)
	}
	return nil
}
