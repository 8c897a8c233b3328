// Package validate checks CAAS's deployment edge without Docker or Envoy binaries:
//
//   - envoy/envoy.yaml is decoded strictly into the Envoy v3 Bootstrap proto
//     (go-control-plane), every message and every nested typed Any is validated
//     against Envoy's protoc-gen-validate rules, deprecated fields are rejected, and
//     the cross references a parser cannot see are checked (clusters named by
//     routes exist, filter order, the /ws WebSocket route, CORS, correlation ids).
//   - docker-compose.yml is loaded with compose-go (the loader Docker Compose
//     uses) and checked against the platform contract: services, environment,
//     dependencies, health checks, published ports.
//   - Both files are checked against each other (Envoy's upstreams are compose
//     services on the right ports).
//
// Run: cd tests/validate && go test ./...
// Point the main checks at another file with CAAS_ENVOY_CONFIG / CAAS_COMPOSE_FILE.
package validate
