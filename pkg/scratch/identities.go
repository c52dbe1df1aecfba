package scratch

import (
	"io"
	"log/slog"
	"os"
	"time"

	"google.golang.org/grpc"

	"github.com/paysuite/paysuite/pkg/grpcserver"
	"github.com/paysuite/paysuite/pkg/tlsx"
)

// Identities is a throw-away development CA with a certificate for every paysuite name, in a
// temporary directory: what an in-process service of a test or benchmark presents, and what
// its clients dial with.
type Identities struct{ Dir string }

// NewIdentities makes the CA and certificates; Remove deletes them.
func NewIdentities() (*Identities, error) {
	dir, err := os.MkdirTemp("", "paysuite-tls-")
	if err != nil {
		return nil, err
	}
	if _, err := tlsx.EnsureDevCA(dir, tlsx.Names(), time.Now()); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return &Identities{Dir: dir}, nil
}

// Files are name's certificate files.
func (i *Identities) Files(name string) tlsx.Files { return tlsx.DevFiles(i.Dir, name) }

// Dial connects to the service named server at addr with caller's certificate.
func (i *Identities) Dial(caller, server, addr string) (*grpc.ClientConn, error) {
	src, err := tlsx.Load(i.Files(caller), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		return nil, err
	}
	return grpcserver.Dial(addr, src, server)
}

// Remove deletes the directory.
func (i *Identities) Remove() { _ = os.RemoveAll(i.Dir) }
