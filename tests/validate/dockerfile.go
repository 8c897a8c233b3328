package validate

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

// Paths (relative to the repository root) the build needs: .dockerignore must keep them.
var buildContextKeeps = []string{
	"package.json", "package-lock.json", "tsconfig.base.json", "tsconfig.build.json",
	"buf.yaml", "buf.gen.yaml", "proto/caas/x.proto", "vendor/proto/x.proto",
	"gen/package.json", "gen/tsconfig.json", "gen/es/x_pb.ts",
	"services/chat/package.json", "services/chat/tsconfig.json", "services/chat/src/main.ts",
	"services/shared/src/index.ts",
}

// Paths that must never reach the build context (size, secrets, host builds).
var buildContextDrops = []string{
	"node_modules/x/index.js", "services/chat/node_modules/x.js", "services/chat/dist/main.js",
	"gen/dist/x.js", ".git/config", ".env", ".env.local", "data/admin-credential",
	"tests/validate/go.mod",
}

// nodeImage is the base of every stage: Node 24, the active LTS line (Node 20 reached its end of
// life in April 2026), on Debian bookworm slim.
const nodeImage = "node:24-bookworm-slim"

// CheckDockerfile parses the Dockerfile with BuildKit's own parser and instruction
// decoder (the code `docker build` runs), reports parser and lint warnings, and checks
// the CAAS image contract.
func CheckDockerfile(path string) error {
	p := &problems{}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	res, err := parser.Parse(f)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	for _, w := range res.Warnings {
		p.add("parser: %s", w.Short)
	}
	lint := linter.New(&linter.Config{Warn: func(rule, desc, url, msg string, loc []parser.Range) {
		line := 0
		if len(loc) > 0 {
			line = loc[0].Start.Line
		}
		p.add("lint %s (line %d): %s", rule, line, msg)
	}})
	stages, metaArgs, err := instructions.Parse(res.AST, lint)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if len(stages) < 2 {
		p.add("want a multi-stage build (build tools stay out of the runtime image), found %d stage(s)", len(stages))
	}

	// Base images: the Node LTS line the project supports (nodeImage), directly or through a
	// global ARG.
	args := map[string]string{}
	for _, a := range metaArgs {
		for _, kv := range a.Args {
			if kv.Value != nil {
				args[kv.Key] = *kv.Value
			}
		}
	}
	names := map[string]int{}
	for i, s := range stages {
		base := expandArgs(s.BaseName, args)
		if _, isStage := names[strings.ToLower(base)]; !isStage && base != nodeImage && !strings.HasPrefix(base, nodeImage+"@") {
			p.add("stage %d %q: FROM %s, want %s", i, s.Name, base, nodeImage)
		}
		if s.Name != "" {
			if _, dup := names[strings.ToLower(s.Name)]; dup {
				p.add("stage name %q used twice", s.Name)
			}
			names[strings.ToLower(s.Name)] = i
		}
		// COPY --from must name an earlier stage.
		for _, c := range s.Commands {
			if cp, ok := c.(*instructions.CopyCommand); ok && cp.From != "" {
				if j, ok := names[strings.ToLower(cp.From)]; !ok || j >= i {
					p.add("stage %q: COPY --from=%s names no earlier stage", s.Name, cp.From)
				}
			}
		}
	}

	// The stage that compiles: system toolchain for better-sqlite3, npm ci, build, prune.
	buildStage := -1
	for i, s := range stages {
		if strings.Contains(runText(s), "npm run build") {
			buildStage = i
		}
	}
	if buildStage < 0 {
		p.add("no stage runs `npm run build`")
	} else {
		run := runText(stages[buildStage])
		for _, want := range []string{"python3", "make", "g++"} {
			if !strings.Contains(run, "apt-get install") || !strings.Contains(run, want) {
				p.add("build stage: installs no %s (better-sqlite3 compiles from source)", want)
			}
		}
		if !strings.Contains(run, "npm ci") {
			p.add("build stage: no `npm ci` (lockfile-exact install)")
		}
		if !strings.Contains(run, "npm prune --omit=dev") && !strings.Contains(run, "npm ci --omit=dev") {
			p.add("build stage: dev dependencies are not pruned (npm prune --omit=dev)")
		}
	}

	// The runtime (last) stage.
	if len(stages) > 0 {
		rt := stages[len(stages)-1]
		if buildStage == len(stages)-1 {
			p.add("the last stage builds; the runtime must be a separate, tool-free stage")
		}
		var user, workdir string
		hasCmd := false
		for _, c := range rt.Commands {
			switch c := c.(type) {
			case *instructions.UserCommand:
				user = c.User
			case *instructions.WorkdirCommand:
				workdir = c.Path
			case *instructions.CmdCommand:
				hasCmd = true
				if c.PrependShell {
					p.add("runtime: CMD in shell form; use the exec (JSON) form so signals reach node")
				}
			case *instructions.EntrypointCommand:
				if c.PrependShell {
					p.add("runtime: ENTRYPOINT in shell form; use the exec (JSON) form")
				}
			case *instructions.CopyCommand:
				if c.From == "" && slices.Contains(c.SourcePaths, ".") {
					p.add("runtime: copies the whole build context; copy the built output from the build stage")
				}
			}
		}
		if u := strings.SplitN(user, ":", 2)[0]; u == "" || u == "root" || u == "0" {
			p.add("runtime: runs as root; set USER to an unprivileged user (node)")
		}
		if workdir != "/app" {
			p.add("runtime: WORKDIR %q, want /app (compose runs node services/<svc>/dist/main.js from it)", workdir)
		}
		if !hasCmd {
			p.add("runtime: no CMD")
		}
		if strings.Contains(runText(rt), "apt-get install") {
			p.add("runtime: installs system packages; keep toolchains in the build stage")
		}
	}
	return p.err(path)
}

func runText(s instructions.Stage) string {
	var b strings.Builder
	for _, c := range s.Commands {
		if r, ok := c.(*instructions.RunCommand); ok {
			b.WriteString(strings.Join(r.CmdLine, " "))
			b.WriteString("\n")
		}
	}
	return b.String()
}

func expandArgs(s string, args map[string]string) string {
	return os.Expand(s, func(k string) string { return args[k] })
}

// CheckDockerignore checks .dockerignore with the matcher Docker uses: the build's inputs
// stay in the context, dependencies, outputs, VCS data and secrets stay out.
func CheckDockerignore(path string) error {
	p := &problems{}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	patterns, err := ignorefile.ReadAll(f)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	for _, keep := range buildContextKeeps {
		if m, err := pm.MatchesOrParentMatches(filepath.FromSlash(keep)); err != nil || m {
			p.add("%s is excluded from the build context, but the build needs it", keep)
		}
	}
	for _, drop := range buildContextDrops {
		if m, err := pm.MatchesOrParentMatches(filepath.FromSlash(drop)); err != nil || !m {
			p.add("%s is sent to the build context; exclude it", drop)
		}
	}
	return p.err(path)
}
