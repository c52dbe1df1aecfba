// Package deploy holds the Kubernetes manifests of paysuite (base/, overlays/) and, in its tests,
// renders them with kustomize and validates every object against its Go API type.
package deploy
