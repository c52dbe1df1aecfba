// Command course enrols the buyers of courses (gRPC on COURSE_GRPC_ADDR, default :9004).
package main

import (
	"github.com/paysuite/paysuite/pkg/run"
	"github.com/paysuite/paysuite/services/course/service"
)

func main() { run.Service(service.Name, service.ConfigFromEnv, service.Run) }
