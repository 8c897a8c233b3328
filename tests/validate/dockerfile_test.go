package validate

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestDockerfile(t *testing.T) {
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckDockerfile(filepath.Join(root, "Dockerfile")); err != nil {
		t.Fatal(err)
	}
}

func TestDockerignore(t *testing.T) {
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckDockerignore(filepath.Join(root, ".dockerignore")); err != nil {
		t.Fatal(err)
	}
}

func TestDockerValidatorsRejectBrokenFiles(t *testing.T) {
	cases := map[string]struct {
		check func(string) error
		want  string
	}{
		"dockerfile/root_user.Dockerfile":         {CheckDockerfile, "runtime: runs as root"},
		"dockerfile/no_toolchain.Dockerfile":      {CheckDockerfile, "build stage: installs no python3"},
		"dockerfile/bad_copy_from.Dockerfile":     {CheckDockerfile, "COPY --from=builder names no earlier stage"},
		"dockerfile/shell_cmd.Dockerfile":         {CheckDockerfile, "CMD in shell form"},
		"dockerfile/bad_instruction.Dockerfile":   {CheckDockerfile, "FROM"},
		"dockerfile/old_node.Dockerfile":          {CheckDockerfile, "FROM node:20-bookworm-slim, want node:24-bookworm-slim"},
		"dockerignore/drops_sources.dockerignore": {CheckDockerignore, "services/chat/src/main.ts is excluded"},
		"dockerignore/keeps_env.dockerignore":     {CheckDockerignore, ".env is sent to the build context"},
	}
	for _, dir := range []string{"dockerfile", "dockerignore"} {
		files, _ := filepath.Glob(filepath.Join("testdata", dir, "*"))
		n := 0
		for name := range cases {
			if strings.HasPrefix(name, dir+"/") {
				n++
			}
		}
		if len(files) != n {
			t.Errorf("testdata/%s holds %d files, the table names %d: keep them in step", dir, len(files), n)
		}
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			err := c.check(filepath.Join("testdata", name))
			if err == nil {
				t.Fatal("validator accepted a broken file")
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("rejected, but not for the planted defect.\nwant substring: %s\ngot: %v", c.want, err)
			}
			t.Logf("rejected as expected: %s", firstLines(err.Error(), 3))
		})
	}
}
