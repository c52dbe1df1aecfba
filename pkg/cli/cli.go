// Package cli is the operator's `paysuite` command (pkg/cmd/paysuite): order, payment and
// refund lookups, asking the provider about a payment or a refund now (payment sync, refund
// sync), reconciliation runs and reports, anomalies and webhook deliveries over gRPC as the
// admin identity (mutual TLS with the admin certificate, pkg/tlsx), the parking queues over
// AMQP, and for development the dev CA and dev-issuer tokens. Tables for people by default,
// `-o json` for scripts; errors name what failed and exit non-zero (1: the call failed, 2: bad
// usage).
//
// Built on cobra: the subcommand tree, help, flag parsing and shell completion that kubectl and
// gh users already know.
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/paysuite/paysuite/pkg/grpcserver"
	"github.com/paysuite/paysuite/pkg/tlsx"
)

// Options are the global flags.
type Options struct {
	TLSDir  string // the admin certificate and the CA (PAYSUITE_TLS_DIR, default .paysuite/tls)
	Output  string // table or json
	Timeout time.Duration
	Targets map[string]string // service name -> gRPC address
	AMQPURL string            // the broker, for the parking queues
	Yes     bool              // do not ask before changing anything
	in      io.Reader
	out     io.Writer
	errOut  io.Writer
}

// defaultTargets are the services' gRPC addresses under `make run` (CONTRACT.md).
var defaultTargets = map[string]string{
	tlsx.Order: "localhost:9001", tlsx.Payment: "localhost:9002", tlsx.Notification: "localhost:9003",
	tlsx.Course: "localhost:9004",
}

// UsageError is bad usage (exit 2), as opposed to a failed call (exit 1).
type UsageError struct{ error }

// Execute runs the command line args and returns the process's exit code.
func Execute(args []string, in io.Reader, out, errOut io.Writer) int {
	root := New(in, out, errOut)
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return 0
	}
	fmt.Fprintln(errOut, "paysuite:", err)
	var ue UsageError
	if errors.As(err, &ue) {
		return 2
	}
	return 1
}

// New returns the root command writing to out and errOut.
func New(in io.Reader, out, errOut io.Writer) *cobra.Command {
	o := &Options{Targets: map[string]string{}, in: in, out: out, errOut: errOut}
	root := &cobra.Command{
		Use:           "paysuite",
		Short:         "Operate paysuite: orders, payments, refunds, reconciliation, anomalies, parked messages, webhooks",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(*cobra.Command, []string) error {
			if o.Output != "table" && o.Output != "json" {
				return UsageError{fmt.Errorf("-o %q: want table or json", o.Output)}
			}
			return nil
		},
	}
	root.SetOut(out)
	root.SetErr(errOut)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return UsageError{err} })
	f := root.PersistentFlags()
	f.StringVar(&o.TLSDir, "tls-dir", env("PAYSUITE_TLS_DIR", filepath.Join(".paysuite", "tls")),
		"directory of ca.pem and admin.pem/admin-key.pem (PAYSUITE_TLS_DIR)")
	f.StringVarP(&o.Output, "output", "o", "table", "table or json")
	f.DurationVar(&o.Timeout, "timeout", 30*time.Second, "bound on each call")
	for name, addr := range defaultTargets {
		o.Targets[name] = addr
		target := new(string)
		f.StringVar(target, name+"-addr", env(strings.ToUpper(name)+"_TARGET", addr), "the "+name+" service's gRPC address")
		cobra.OnInitialize(func() { o.Targets[name] = *target })
	}
	f.StringVar(&o.AMQPURL, "amqp-url", env("PAYSUITE_AMQP_URL", env("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")),
		"the broker, as the user of the service whose queue is handled (PAYSUITE_AMQP_URL, AMQP_URL)")
	f.BoolVarP(&o.Yes, "yes", "y", false, "do not ask before changing anything")
	root.AddCommand(orderCmd(o), paymentCmd(o), refundCmd(o), reconCmd(o), anomaliesCmd(o), webhooksCmd(o), parkedCmd(o), tokenCmd(o), certsCmd(o))
	return root
}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// dial connects to service as admin.
func (o *Options) dial(service string) (*grpc.ClientConn, error) {
	src, err := tlsx.Load(tlsx.DevFiles(o.TLSDir, tlsx.Admin), slog.New(slog.DiscardHandler))
	if err != nil {
		return nil, fmt.Errorf("admin identity in %s: %w (make run creates it; or --tls-dir)", o.TLSDir, err)
	}
	return grpcserver.Dial(o.Targets[service], src, service)
}

// call runs fn with a connection to service and a bounded context.
func call[T any](cmd *cobra.Command, o *Options, service string, fn func(context.Context, *grpc.ClientConn) (T, error)) (T, error) {
	var zero T
	conn, err := o.dial(service)
	if err != nil {
		return zero, err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(cmd.Context(), o.Timeout)
	defer cancel()
	return fn(ctx, conn)
}

// printProto writes m as JSON (-o json) or as the table rows gives.
func (o *Options) print(m proto.Message, header []string, rows [][]string) error {
	if o.Output == "json" {
		b, err := protojson.MarshalOptions{Multiline: true, Indent: "  "}.Marshal(m)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(o.out, string(b))
		return err
	}
	return o.table(header, rows)
}

func (o *Options) table(header []string, rows [][]string) error {
	w := tabwriter.NewWriter(o.out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, strings.Join(header, "\t"))
	for _, r := range rows {
		fmt.Fprintln(w, strings.Join(r, "\t"))
	}
	return w.Flush()
}

func (o *Options) printJSON(v any) error {
	enc := json.NewEncoder(o.out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// confirm asks the operator, unless --yes.
func (o *Options) confirm(question string) bool {
	if o.Yes {
		return true
	}
	fmt.Fprintf(o.errOut, "%s [y/N] ", question)
	var answer string
	_, _ = fmt.Fscanln(o.in, &answer)
	return strings.EqualFold(answer, "y") || strings.EqualFold(answer, "yes")
}

// id parses a numeric id argument.
func id(what, s string) (int64, error) {
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v <= 0 {
		return 0, UsageError{fmt.Errorf("%s %q: want a positive number", what, s)}
	}
	return v, nil
}

func args(n int, names string) cobra.PositionalArgs {
	return func(_ *cobra.Command, a []string) error {
		if len(a) != n {
			return UsageError{fmt.Errorf("want %s", names)}
		}
		return nil
	}
}
