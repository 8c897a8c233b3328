package validate

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// problems collects every finding so one run reports all of them, not just the first.
type problems struct{ list []string }

func (p *problems) add(format string, args ...any) {
	p.list = append(p.list, fmt.Sprintf(format, args...))
}

func (p *problems) err(what string) error {
	if len(p.list) == 0 {
		return nil
	}
	return errors.New(what + ": " + fmt.Sprint(len(p.list)) + " problem(s):\n  - " + strings.Join(p.list, "\n  - "))
}

// RepoRoot finds the repository root: the nearest ancestor of the working directory
// holding both docker-compose.yml and envoy/.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if isFile(filepath.Join(dir, "docker-compose.yml")) && isDir(filepath.Join(dir, "envoy")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("repository root (docker-compose.yml + envoy/) not found above the working directory")
		}
		dir = parent
	}
}

func isFile(p string) bool { st, err := os.Stat(p); return err == nil && st.Mode().IsRegular() }
func isDir(p string) bool  { st, err := os.Stat(p); return err == nil && st.IsDir() }
