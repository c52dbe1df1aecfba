package scratch

import (
	"context"
	"fmt"
	"net/url"

	"github.com/paysuite/paysuite/pkg/access"
)

// Vhost creates vhost name on the broker at amqpURL (through the management API when it
// answers, else rabbitmqctl) and returns the URL pointing at it; drop deletes it.
func Vhost(amqpURL, name string) (vhostURL string, drop func() error, err error) {
	u, err := url.Parse(amqpURL)
	if err != nil {
		return "", nil, err
	}
	admin, err := access.NewBrokerAdmin(amqpURL)
	if err != nil {
		return "", nil, err
	}
	if err := admin.CreateVhost(context.Background(), name); err != nil {
		return "", nil, fmt.Errorf("create vhost %s: %w", name, err)
	}
	u.Path = "/" + name
	return u.String(), func() error { return admin.DeleteVhost(context.Background(), name) }, nil
}
