package validate

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// envoyConfigPath is envoy/envoy.yaml, or CAAS_ENVOY_CONFIG when set (relative paths are
// taken from this directory), so the same checks can be pointed at a candidate file.
func envoyConfigPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("CAAS_ENVOY_CONFIG"); p != "" {
		abs, err := filepath.Abs(p)
		if err != nil {
			t.Fatal(err)
		}
		return abs
	}
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, "envoy", "envoy.yaml")
}

func TestEnvoyConfig(t *testing.T) {
	path := envoyConfigPath(t)
	b, err := ValidateEnvoyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Sanity: the walk really reached the typed configs (a vacuous pass proves nothing).
	up := EnvoyUpstreams(b)
	if len(up["gateway"]) == 0 || len(up["socket"]) != 2 {
		t.Fatalf("unexpected upstreams %v", up)
	}
}

// Each file in testdata/envoy is envoy.yaml with one deliberate defect; the validator must
// reject it, and for the reason named here (so a file broken in some other way, or a
// validator that rejects everything, does not pass this test).
func TestEnvoyValidatorRejectsBrokenConfigs(t *testing.T) {
	cases := map[string]string{
		"typo_field.yaml":        `unknown field "stat_prefx"`,
		"unknown_filter.yaml":    `unable to resolve "type.googleapis.com/envoy.extensions.filters.http.grpc_webb.v3.GrpcWeb"`,
		"undefined_cluster.yaml": `cluster "sockets" is not defined`,
		"router_not_last.yaml":   "the router must be the last HTTP filter",
		"missing_grpc_web.yaml":  "envoy.filters.http.grpc_web missing",
		"ws_no_upgrade.yaml":     "does not allow the websocket upgrade",
		"ws_shadowed.yaml":       `route[1] "websocket": unreachable`,
		"pgv_in_any.yaml":        "StatPrefix: value length must be at least 1",
		"deprecated_field.yaml":  "inline_code: field is deprecated",
		"duplicate_key.yaml":     `key "connect_timeout" already set`,
		"admin_public.yaml":      "admin: listens on 0.0.0.0:9901",
		"envoy_cors.yaml":        "Envoy must not answer CORS itself",
	}
	files, err := filepath.Glob(filepath.Join("testdata", "envoy", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != len(cases) {
		t.Errorf("testdata/envoy holds %d files, the table names %d: keep them in step", len(files), len(cases))
	}
	for name, want := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := ValidateEnvoyFile(filepath.Join("testdata", "envoy", name))
			if err == nil {
				t.Fatalf("validator accepted a broken config")
			}
			if !strings.Contains(err.Error(), want) {
				t.Fatalf("rejected, but not for the planted defect.\nwant substring: %s\ngot: %v", want, err)
			}
			t.Logf("rejected as expected: %s", firstLines(err.Error(), 4))
		})
	}
}

func firstLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = append(lines[:n], "...")
	}
	return strings.Join(lines, " | ")
}
