// Command devenv prepares the local servers for `make run` and docker-compose:
//
//	devenv tls                 the development CA and a certificate per name in PAYSUITE_TLS_DIR
//	devenv users [-env FILE]   a broker and a database user per service (PAYSUITE_ADMIN_* make
//	                           them), written to FILE as <SERVICE>_MYSQL_DSN / _AMQP_URL exports
//
// Both may be given at once; each step is idempotent and keeps what an earlier run made.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/paysuite/paysuite/pkg/devenv"
)

func main() {
	envFile := flag.String("env", ".paysuite/services.env",
		"where `users` keeps the services' own connection settings (empty: nowhere, when they are given)")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: devenv [-env FILE] tls|users ...")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() == 0 {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(flag.Args(), *envFile); err != nil {
		fmt.Fprintln(os.Stderr, "devenv:", err)
		os.Exit(1)
	}
}

func run(steps []string, envFile string) error {
	s := devenv.SettingsFromEnv(os.LookupEnv)
	for _, step := range steps {
		switch step {
		case "tls":
			if err := devenv.EnsureTLS(s, os.Stdout); err != nil {
				return err
			}
		case "users":
			previous := map[string]string{}
			if envFile != "" {
				var err error
				if previous, err = devenv.ReadExports(envFile); err != nil {
					return err
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			exports, err := devenv.EnsureUsers(ctx, s, previous)
			cancel()
			if err != nil {
				return err
			}
			if envFile != "" {
				if err := devenv.WriteExports(envFile, exports); err != nil {
					return err
				}
			}
			fmt.Printf("devenv: a broker and a database user per service %s\n", envFile)
		default:
			return fmt.Errorf("unknown step %q (want tls or users)", step)
		}
	}
	return nil
}
