// Package access says what each service may touch on the shared servers, and makes it so: one
// RabbitMQ user per service whose configure/write/read permissions cover only its own exchanges
// and queues (and only paysuite-payment may write to paysuite.payment.results), and one MariaDB
// user per service granted only its own database. `make run` and docker-compose apply it to the
// local servers (cmd/devenv), tests to their own vhost and databases (pkg/testkit), and deploy/
// declares the same in a cluster.
package access

import (
	"fmt"
	"regexp"
)

// Services are the processes that have a broker user and a database of their own.
func Services() []string { return []string{"order", "payment", "notification", "course"} }

// BrokerPermissions are a RabbitMQ user's permissions in one vhost: regular expressions over
// exchange and queue names (RabbitMQ does not anchor them; these are anchored).
type BrokerPermissions struct {
	Configure string `json:"configure"` // declare and delete
	Write     string `json:"write"`     // publish to an exchange, bind a queue
	Read      string `json:"read"`      // consume from a queue, bind to an exchange
}

// resultsExchange is amqpx.PaymentResultsExchange, spelled as a regular expression.
const resultsExchange = `paysuite\.payment\.results`

// refusalsExchange is amqpx.PaymentRefusalsExchange (the order's, read by payment).
const refusalsExchange = `paysuite\.order\.payment-refusals`

// BrokerPermissionsOf returns what service may do: configure its own `paysuite.<service>.*`
// exchanges and queues, write to them and to the default exchange (retry and parking copies, and
// the order service's delay queue, go through it), and read them; the consumers of payment
// results may also read (bind to) paysuite.payment.results, which only payment may write to;
// payment may read (bind to) the order's paysuite.order.payment-refusals, which only order
// writes to.
//
// The default exchange reaches any queue of the vhost, so a service could put a message in
// another's queue: every consumer of payment results therefore also checks the broker-validated
// user_id (amqpx.ConsumerConfig.Publisher).
func BrokerPermissionsOf(service string) (BrokerPermissions, error) {
	if !isService(service) {
		return BrokerPermissions{}, fmt.Errorf("access: unknown service %q", service)
	}
	own := `paysuite\.` + service + `\..*`
	p := BrokerPermissions{
		Configure: "^" + own + "$",
		Write:     "^(" + own + `|amq\.default)$`,
		Read:      "^" + own + "$",
	}
	if service != "payment" {
		p.Read = "^(" + own + "|" + resultsExchange + ")$"
	} else {
		p.Read = "^(" + own + "|" + refusalsExchange + ")$"
	}
	return p, nil
}

// BrokerUser is the RabbitMQ user of service: `<prefix>-<service>`, paysuite-payment with the
// prefix "paysuite".
func BrokerUser(prefix, service string) string { return prefix + "-" + service }

// DatabaseUser is the MariaDB user of service: `<prefix>_<service>`, paysuite_order with the
// prefix "paysuite".
func DatabaseUser(prefix, service string) string { return prefix + "_" + service }

func isService(name string) bool {
	for _, s := range Services() {
		if s == name {
			return true
		}
	}
	return false
}

var (
	safeName     = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)
	safePassword = regexp.MustCompile(`^[A-Za-z0-9_.~-]{8,128}$`)
)

// checkCredentials refuses names and passwords that would need quoting in SQL or URLs.
func checkCredentials(user, password string) error {
	if !safeName.MatchString(user) {
		return fmt.Errorf("access: user name %q: want 1-64 letters, digits, _ . -", user)
	}
	if !safePassword.MatchString(password) {
		return fmt.Errorf("access: the password of %s: want 8-128 letters, digits, _ . ~ -", user)
	}
	return nil
}
