package httpapi

import (
	"encoding/json"
	"net/http"

	"google.golang.org/grpc/codes"
)

// writeError answers with the same body shape grpc-gateway uses for gRPC errors
// ({"code","message","details"}), so clients parse one error format whatever produced it.
func writeError(w http.ResponseWriter, httpStatus int, code codes.Code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(httpStatus)
	_ = json.NewEncoder(w).Encode(struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Details []any  `json:"details"`
	}{int(code), msg, []any{}})
}
