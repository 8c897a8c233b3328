package validate

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/dotenv"
)

// commentOrSetting: a line that may stand above a setting (a group shares the comment above it).
var commentOrSetting = regexp.MustCompile(`^(#|[A-Za-z_][A-Za-z0-9_]*=)`)

// .env.example lists every variable docker-compose.yml interpolates, each under a comment that
// explains it, and the file loads with nothing but those values.
func TestEnvExampleCoversCompose(t *testing.T) {
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	compose, err := os.ReadFile(filepath.Join(root, "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	examplePath := filepath.Join(root, ".env.example")
	example, err := os.ReadFile(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	vars, err := dotenv.Read(examplePath)
	if err != nil {
		t.Fatal(err)
	}

	// ${VAR}, ${VAR:-default}, ${VAR:?error}; $$ escapes a literal $ for the container's shell.
	used := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?:^|[^$])\$\{([A-Za-z_][A-Za-z0-9_]*)`).FindAllSubmatch(compose, -1) {
		used[string(m[1])] = true
	}
	if len(used) == 0 {
		t.Fatal("found no ${VAR} in docker-compose.yml: the pattern is wrong")
	}
	names := make([]string, 0, len(used))
	for v := range used {
		names = append(names, v)
	}
	sort.Strings(names)
	lines := strings.Split(string(example), "\n")
	for _, v := range names {
		if _, ok := vars[v]; !ok {
			t.Errorf(".env.example lacks %s, which docker-compose.yml reads", v)
			continue
		}
		for i, line := range lines {
			if strings.HasPrefix(line, v+"=") && (i == 0 || !commentOrSetting.MatchString(lines[i-1])) {
				t.Errorf(".env.example: %s has no comment above it (or above its group) saying what it is", v)
			}
		}
	}
	for v := range vars {
		if !used[v] {
			t.Errorf(".env.example sets %s, which docker-compose.yml never reads", v)
		}
	}

	env := []string{}
	for k, v := range vars {
		env = append(env, k+"="+v)
	}
	if _, err := LoadComposeWithEnv(context.Background(), filepath.Join(root, "docker-compose.yml"), root, env); err != nil {
		t.Fatalf("docker-compose.yml does not load with only .env.example's values: %v", err)
	}
	t.Logf("%d variables, all documented", len(names))
}
