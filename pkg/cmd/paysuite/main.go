// Command paysuite is the operator's CLI (pkg/cli): `paysuite --help`.
package main

import (
	"os"

	"github.com/paysuite/paysuite/pkg/cli"
)

func main() { os.Exit(cli.Execute(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) }
