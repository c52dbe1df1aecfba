package cli

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/paysuite/paysuite/pkg/jwtauth"
	"github.com/paysuite/paysuite/pkg/tlsx"
)

// DevIssuer and DevAudience are the gateway's dev issuer (GATEWAY_DEV_MODE) and its audience.
const (
	DevIssuer   = "paysuite-dev"
	DevAudience = "paysuite"
)

func tokenCmd(o *Options) *cobra.Command {
	var keyFile, roles string
	var ttl time.Duration
	c := &cobra.Command{
		Use:   "token USER_ID",
		Short: "Sign a bearer token with the gateway's dev issuer key (development only)",
		Long: "The gateway in dev mode (make run) trusts tokens of the issuer paysuite-dev signed with the key in\n" +
			"GATEWAY_DEV_KEY_FILE (.paysuite/dev-issuer-key.pem). Production trusts only its identity provider.",
		Args: args(1, "a user id"),
		RunE: func(_ *cobra.Command, a []string) error {
			key, err := jwtauth.LoadOrCreateKey(keyFile)
			if err != nil {
				return fmt.Errorf("dev issuer key %s: %w", keyFile, err)
			}
			is, err := jwtauth.NewIssuer(DevIssuer, DevAudience, key)
			if err != nil {
				return err
			}
			var rs []string
			if roles != "" {
				rs = strings.Split(roles, ",")
			}
			tok, err := is.Sign(a[0], rs, ttl)
			if err != nil {
				return err
			}
			if o.Output == "json" {
				return o.printJSON(tok)
			}
			_, err = fmt.Fprintln(o.out, tok.Token)
			return err
		},
	}
	c.Flags().StringVar(&keyFile, "key-file", env("GATEWAY_DEV_KEY_FILE", filepath.Join(".paysuite", "dev-issuer-key.pem")),
		"the dev issuer's key (GATEWAY_DEV_KEY_FILE)")
	c.Flags().StringVar(&roles, "roles", "", "comma-separated roles (e.g. merchant)")
	c.Flags().DurationVar(&ttl, "ttl", time.Hour, "lifetime")
	return c
}

func certsCmd(o *Options) *cobra.Command {
	return &cobra.Command{
		Use:   "certs",
		Short: "Make the development CA and a certificate per paysuite name in --tls-dir (kept if present)",
		Args:  args(0, "no arguments"),
		RunE: func(*cobra.Command, []string) error {
			made, err := tlsx.EnsureDevCA(o.TLSDir, tlsx.Names(), time.Now())
			if err != nil {
				return err
			}
			if o.Output == "json" {
				return o.printJSON(map[string]any{"dir": o.TLSDir, "made": made})
			}
			if len(made) == 0 {
				fmt.Fprintf(o.out, "%s: every certificate is already there\n", o.TLSDir)
			}
			for _, f := range made {
				fmt.Fprintf(o.out, "made %s\n", f)
			}
			return nil
		},
	}
}
