// Command compose-env prints what docker-compose.yml gives each service once loaded the way
// `docker compose` loads it (compose-go: anchors, merges, interpolation, normalization), with the
// variables of an env file (default .env.example) as the whole environment. The TypeScript tests
// run every CAAS service from this output (tests/support/compose-services.ts).
//
//	go run ./cmd/compose-env [-file docker-compose.yml] [-env-file .env.example]
//
// Output: {"services": {"<name>": {"command": [...], "environment": {...}}}}, JSON on stdout.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/caas/caas/tests/validate"
	"github.com/compose-spec/compose-go/v2/dotenv"
)

type service struct {
	Command     []string          `json:"command"`
	Environment map[string]string `json:"environment"`
}

func main() {
	root, err := validate.RepoRoot()
	if err != nil {
		fail(err)
	}
	file := flag.String("file", filepath.Join(root, "docker-compose.yml"), "the compose file")
	envFile := flag.String("env-file", filepath.Join(root, ".env.example"), "the variables the file is interpolated with")
	flag.Parse()

	vars, err := dotenv.Read(*envFile)
	if err != nil {
		fail(fmt.Errorf("%s: %w", *envFile, err))
	}
	env := make([]string, 0, len(vars))
	for k, v := range vars {
		env = append(env, k+"="+v)
	}
	sort.Strings(env)
	project, err := validate.LoadComposeWithEnv(context.Background(), *file, root, env)
	if err != nil {
		fail(fmt.Errorf("%s with %s: %w", *file, *envFile, err))
	}
	out := struct {
		Services map[string]service `json:"services"`
	}{Services: map[string]service{}}
	for name, s := range project.Services {
		environment := map[string]string{}
		for k, v := range s.Environment {
			if v != nil {
				environment[k] = *v
			}
		}
		command := []string{}
		command = append(command, s.Command...)
		out.Services[name] = service{Command: command, Environment: environment}
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "compose-env:", err)
	os.Exit(1)
}
