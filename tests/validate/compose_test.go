package validate

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// composeFilePath is docker-compose.yml, or CAAS_COMPOSE_FILE when set (relative paths are
// taken from this directory). The project directory is always the repository root.
func composeFilePath(t *testing.T) (file, root string) {
	t.Helper()
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	if p := os.Getenv("CAAS_COMPOSE_FILE"); p != "" {
		abs, err := filepath.Abs(p)
		if err != nil {
			t.Fatal(err)
		}
		return abs, root
	}
	return filepath.Join(root, "docker-compose.yml"), root
}

func TestComposeFile(t *testing.T) {
	file, root := composeFilePath(t)
	project, err := ValidateComposeFile(context.Background(), file, root)
	if err != nil {
		t.Fatal(err)
	}
	// Sanity: merges and anchors really produced the per-service environments.
	chat := project.Services["chat-2"]
	if v := chat.Environment["CAAS_KAFKA_BROKERS"]; v == nil || *v == "" {
		t.Fatalf("chat-2 has no CAAS_KAFKA_BROKERS after loading: %v", chat.Environment)
	}
	t.Logf("%d services loaded and checked", len(project.Services))
}

// Each file in testdata/compose is docker-compose.yml with one deliberate defect.
func TestComposeValidatorRejectsBrokenFiles(t *testing.T) {
	cases := map[string]string{
		"missing_chat_env.yml":        `service "chat-2": environment lacks CAAS_KAFKA_BROKERS`,
		"unknown_depends_on.yml":      `redis-cryptoo`,
		"invalid_structure.yml":       `services.envoy.ports must be a array`,
		"not_yaml.yml":                `yaml:`,
		"missing_healthcheck.yml":     `service "media": no health check`,
		"wrong_peer_port.yml":         `CAAS_AUTH_URL names auth:3070, but auth listens on 3007`,
		"undeclared_backing_dep.yml":  `service "search": CAAS_ELASTICSEARCH_URL uses "elasticsearch" but the service does not depend_on it`,
		"literal_admin_token.yml":     `CAAS_ADMIN_TOKEN must come from the environment`,
		"published_redis.yml":         `service "redis-gateway": publishes host ports`,
		"missing_ui_service.yml":      `service "kafka-ui" is missing`,
		"unknown_setting.yml":         `service "search": CAAS_ELASTIC_URL is not a known setting`,
		"grace_too_long.yml":          `service "socket-1": shutdown grace 45000 ms is not shorter than stop_grace_period 30000 ms`,
		"peer_url_omits_instance.yml": `CAAS_CHAT_URL omits instance "chat-2"`,
	}
	files, err := filepath.Glob(filepath.Join("testdata", "compose", "*.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != len(cases) {
		t.Errorf("testdata/compose holds %d files, the table names %d: keep them in step", len(files), len(cases))
	}
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range cases {
		t.Run(name, func(t *testing.T) {
			file, _ := filepath.Abs(filepath.Join("testdata", "compose", name))
			_, err := ValidateComposeFile(context.Background(), file, root)
			if err == nil {
				t.Fatalf("validator accepted a broken compose file")
			}
			if !strings.Contains(err.Error(), want) {
				t.Fatalf("rejected, but not for the planted defect.\nwant substring: %s\ngot: %v", want, err)
			}
			t.Logf("rejected as expected: %s", firstLines(err.Error(), 4))
		})
	}
}
