package validate

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
)

// AdminTokenSentinel is what CAAS_ADMIN_TOKEN is set to while loading: the loaded services
// must carry exactly this value, which proves the token is read from the environment
// (.env) rather than written into the file.
const AdminTokenSentinel = "validate-admin-token-from-env"

// composeEnv is the whole environment the compose file is interpolated with: nothing from
// the caller's shell leaks in, and required variables (${VAR:?}) get a value.
var composeEnv = []string{
	"CAAS_ADMIN_TOKEN=" + AdminTokenSentinel,
	"CAAS_SERVICE_SECRET=" + ServiceSecretSentinel,
}

// ServiceSecretSentinel plays the same role for CAAS_SERVICE_SECRET.
const ServiceSecretSentinel = "validate-service-secret-from-env"

// caasInstances maps each CAAS compose service to the service kind it runs.
var caasInstances = map[string]string{
	"gateway": "gateway", "auth": "auth", "chat-1": "chat", "chat-2": "chat",
	"socket-1": "socket", "socket-2": "socket", "media": "media", "search": "search",
	"compliance": "compliance", "crypto": "crypto",
}

// caasPorts is each kind's port inside its container.
var caasPorts = map[string]int{
	"gateway": 3000, "auth": 3007, "chat": 3004, "socket": 3002,
	"media": 3005, "search": 3006, "compliance": 3008, "crypto": 3009,
}

// infraServices must exist besides the CAAS services.
var infraServices = []string{
	"envoy",
	"mongo-1", "mongo-2", "mongo-3", "mongo-init",
	"kafka-1", "kafka-2", "kafka-3", "schema-registry",
	"redis", "redis-gateway", "redis-socket", "redis-compliance", "redis-crypto",
	"elasticsearch", "minio", "minio-init",
	"kafka-ui", "mongo-express", "redis-commander",
}

// hostPublishers may publish host ports: the edge and the developer UIs (MinIO: console).
var hostPublishers = map[string]bool{
	"envoy": true, "kafka-ui": true, "mongo-express": true, "redis-commander": true, "minio": true,
}

var peerURLVars = map[string]string{
	"CAAS_GATEWAY_URL": "gateway", "CAAS_AUTH_URL": "auth", "CAAS_CHAT_URL": "chat",
	"CAAS_SOCKET_URL": "socket", "CAAS_MEDIA_URL": "media", "CAAS_SEARCH_URL": "search",
	"CAAS_COMPLIANCE_URL": "compliance", "CAAS_CRYPTO_URL": "crypto",
}

// Backing-server environment, grouped by server.
var (
	envMongo         = []string{"CAAS_MONGO_URL", "CAAS_MONGO_DB"}
	envKafka         = []string{"CAAS_KAFKA_BROKERS"}
	envSchemaReg     = []string{"CAAS_SCHEMA_REGISTRY_URL"}
	envRedis         = []string{"CAAS_REDIS_URL"}
	envRedisGateway  = []string{"CAAS_REDIS_GATEWAY_URL"}
	envRedisSocket   = []string{"CAAS_REDIS_SOCKET_URL"}
	envRedisCompl    = []string{"CAAS_REDIS_COMPLIANCE_URL"}
	envRedisCrypto   = []string{"CAAS_REDIS_CRYPTO_URL"}
	envElasticsearch = []string{"CAAS_ELASTICSEARCH_URL"}
	envS3            = []string{"CAAS_S3_ENDPOINT", "CAAS_S3_ACCESS_KEY", "CAAS_S3_SECRET_KEY", "CAAS_S3_BUCKET", "CAAS_S3_REGION"}
)

// caasNeeds is the platform contract: which servers each service kind needs.
var caasNeeds = map[string][][]string{
	"gateway":    {envKafka, envSchemaReg, envRedisGateway},
	"auth":       {envMongo, envKafka, envSchemaReg, envRedis},
	"chat":       {envMongo, envKafka, envSchemaReg, envRedis},
	"socket":     {envKafka, envSchemaReg, envRedisSocket},
	"media":      {envMongo, envS3, envKafka, envSchemaReg, envRedis},
	"search":     {envElasticsearch, envKafka, envSchemaReg, envMongo},
	"compliance": {envMongo, envKafka, envSchemaReg, envRedisCompl},
	"crypto":     {envMongo, envRedisCrypto, envKafka, envSchemaReg},
}

// Variables whose value names servers (checked to resolve to compose services).
var backingAddressVars = []string{
	"CAAS_MONGO_URL", "CAAS_KAFKA_BROKERS", "CAAS_SCHEMA_REGISTRY_URL", "CAAS_REDIS_URL",
	"CAAS_REDIS_GATEWAY_URL", "CAAS_REDIS_SOCKET_URL", "CAAS_REDIS_COMPLIANCE_URL",
	"CAAS_REDIS_CRYPTO_URL", "CAAS_ELASTICSEARCH_URL", "CAAS_S3_ENDPOINT",
}

// knownSettings are the CAAS_* names services/shared/src/config.ts reads, taken from its source
// and that of config-connections.ts, which it calls (every "CAAS_..." string literal) plus the per-service CAAS_<SERVICE>_PORT/_URL it builds: a
// service refuses to start on an unknown CAAS_* variable, so a typo here is fatal there.
var knownSettings = func() map[string]bool {
	m := map[string]bool{}
	for _, file := range []string{"config.ts", "config-connections.ts"} {
		src, err := os.ReadFile(filepath.Join("..", "..", "services", "shared", "src", file))
		if err != nil {
			panic(fmt.Sprintf("reading %s for the known settings: %v", file, err))
		}
		for _, match := range regexp.MustCompile(`"(CAAS_[A-Z0-9_]+)"`).FindAllSubmatch(src, -1) {
			m[string(match[1])] = true
		}
	}
	for kind := range caasPorts {
		m["CAAS_"+strings.ToUpper(kind)+"_PORT"] = true
		m["CAAS_"+strings.ToUpper(kind)+"_URL"] = true
	}
	return m
}()

// defaultShutdownGrace is CAAS_SHUTDOWN_GRACE_MS's default; Docker's stop timeout is 10 s.
const (
	defaultShutdownGraceMs = 10_000
	dockerDefaultStopMs    = 10_000
)

// LoadCompose loads a compose file the way `docker compose` does (schema validation,
// interpolation, normalization, consistency checks such as depends_on targets), with
// the repository root as project directory and a fixed environment.
func LoadCompose(ctx context.Context, file, projectDir string) (*types.Project, error) {
	return LoadComposeWithEnv(ctx, file, projectDir, composeEnv)
}

// LoadComposeWithEnv is LoadCompose with `env` (KEY=value entries) as the whole environment the
// file is interpolated with, e.g. the values of .env.example.
func LoadComposeWithEnv(ctx context.Context, file, projectDir string, env []string) (*types.Project, error) {
	opts, err := cli.NewProjectOptions([]string{file},
		cli.WithName("caas"),
		cli.WithWorkingDirectory(projectDir),
		cli.WithEnv(env),
		cli.WithInterpolation(true),
		cli.WithNormalization(true),
		cli.WithConsistency(true),
		cli.WithResolvedPaths(true),
	)
	if err != nil {
		return nil, err
	}
	return opts.LoadProject(ctx)
}

// ValidateComposeFile loads the file and checks it against the platform contract.
func ValidateComposeFile(ctx context.Context, file, projectDir string) (*types.Project, error) {
	project, err := LoadCompose(ctx, file, projectDir)
	if err != nil {
		return nil, fmt.Errorf("%s: compose loader: %w", file, err)
	}
	if err := CheckCompose(project, projectDir); err != nil {
		return project, fmt.Errorf("%s:\n%w", file, err)
	}
	return project, nil
}

// CheckCompose checks a loaded project against the CAAS deployment contract.
func CheckCompose(project *types.Project, projectDir string) error {
	p := &problems{}
	svcs := project.Services

	// Every service the platform needs exists.
	required := append(sortedKeys(caasInstances), infraServices...)
	for _, name := range required {
		if _, ok := svcs[name]; !ok {
			p.add("service %q is missing", name)
		}
	}

	oneShot := map[string]bool{}
	for _, s := range svcs {
		for dep, d := range s.DependsOn {
			if d.Condition == types.ServiceConditionCompletedSuccessfully {
				oneShot[dep] = true
			}
		}
	}

	for _, name := range sortedNames(svcs) {
		s := svcs[name]
		sp := fmt.Sprintf("service %q", name)

		// depends_on: targets exist, conditions can be met.
		for _, dep := range sortedKeys(s.DependsOn) {
			d := s.DependsOn[dep]
			target, ok := svcs[dep]
			if !ok {
				p.add("%s: depends_on %q, which is not a service", sp, dep)
				continue
			}
			switch d.Condition {
			case types.ServiceConditionHealthy:
				if !hasHealthcheck(target) {
					p.add("%s: waits for %q to be healthy, but %q has no health check", sp, dep, dep)
				}
			case types.ServiceConditionCompletedSuccessfully:
				if target.Restart != "" && target.Restart != types.RestartPolicyNo {
					p.add("%s: waits for %q to complete, but %q restarts (%s)", sp, dep, dep, target.Restart)
				}
			}
		}

		// Health checks on everything long-running.
		if !oneShot[name] && !hasHealthcheck(s) {
			p.add("%s: no health check", sp)
		}

		// Published ports: only the edge and the UIs; UIs on loopback.
		if len(s.Ports) > 0 && !hostPublishers[name] {
			p.add("%s: publishes host ports %v; only envoy and the UIs may", sp, portList(s.Ports))
		}
		if hostPublishers[name] && name != "envoy" {
			for _, port := range s.Ports {
				if port.Published != "" && port.HostIP != "127.0.0.1" {
					p.add("%s: UI port %s must bind 127.0.0.1, binds %q", sp, port.Published, port.HostIP)
				}
			}
		}
	}

	checkCaasServices(project, projectDir, p)
	checkEnvoyService(project, projectDir, p)
	checkKafka(project, p)
	return p.err("compose")
}

func checkCaasServices(project *types.Project, projectDir string, p *problems) {
	svcs := project.Services
	instancesOf := map[string][]string{}
	for name, kind := range caasInstances {
		if _, ok := svcs[name]; ok {
			instancesOf[kind] = append(instancesOf[kind], name)
		}
	}
	images := map[string][]string{}
	for _, name := range sortedNames(svcs) {
		kind, ok := caasInstances[name]
		if !ok {
			continue
		}
		s := svcs[name]
		sp := fmt.Sprintf("service %q", name)
		port := caasPorts[kind]

		// One image built from the repository's Dockerfile.
		if s.Build == nil {
			p.add("%s: not built from the repository (build: .)", sp)
		} else {
			if filepath.Clean(s.Build.Context) != filepath.Clean(projectDir) {
				p.add("%s: build context %q, want the repository root", sp, s.Build.Context)
			}
			if df := s.Build.Dockerfile; df != "" && df != "Dockerfile" && filepath.Clean(df) != filepath.Join(projectDir, "Dockerfile") {
				p.add("%s: dockerfile %q, want Dockerfile", sp, df)
			}
		}
		images[s.Image] = append(images[s.Image], name)

		wantCmd := []string{"node", fmt.Sprintf("services/%s/dist/main.js", kind)}
		if !slices.Equal([]string(s.Command), wantCmd) {
			p.add("%s: command %q, want %q", sp, []string(s.Command), wantCmd)
		}

		// Health check against its own /health.
		if hasHealthcheck(s) {
			test := strings.Join(s.HealthCheck.Test, " ")
			if !strings.Contains(test, fmt.Sprintf("127.0.0.1:%d/health", port)) && !strings.Contains(test, fmt.Sprintf("localhost:%d/health", port)) {
				p.add("%s: health check does not probe http://127.0.0.1:%d/health: %s", sp, port, test)
			}
		}

		// Environment: common settings, own port, peers, the servers it needs.
		env := s.Environment
		get := func(k string) (string, bool) {
			v, ok := env[k]
			if !ok || v == nil {
				return "", false
			}
			return *v, true
		}
		expect := map[string]string{
			"CAAS_MODE":           "cluster",
			"CAAS_HOST":           "0.0.0.0",
			"CAAS_INSTANCE_ID":    name,
			"CAAS_ADMIN_TOKEN":    AdminTokenSentinel,
			"CAAS_SERVICE_SECRET": ServiceSecretSentinel,
			fmt.Sprintf("CAAS_%s_PORT", strings.ToUpper(kind)): strconv.Itoa(port),
		}
		for _, k := range sortedKeys(expect) {
			v, ok := get(k)
			switch {
			case !ok:
				p.add("%s: environment lacks %s", sp, k)
			case (k == "CAAS_ADMIN_TOKEN" || k == "CAAS_SERVICE_SECRET") && v != expect[k]:
				p.add("%s: %s must come from the environment / .env (${%s...}), not be written in the file", sp, k, k)
			case v != expect[k]:
				p.add("%s: %s=%q, want %q", sp, k, v, expect[k])
			}
		}
		if v, ok := get("CAAS_LOG_LEVEL"); !ok || v == "" {
			p.add("%s: environment lacks CAAS_LOG_LEVEL", sp)
		}
		for _, k := range sortedKeys(env) {
			if strings.HasPrefix(k, "CAAS_") && !knownSettings[k] {
				p.add("%s: %s is not a known setting (the service refuses to start on it)", sp, k)
			}
		}
		// The service must finish draining before Docker's SIGKILL.
		graceMs := defaultShutdownGraceMs
		if v, ok := get("CAAS_SHUTDOWN_GRACE_MS"); ok {
			if n, err := strconv.Atoi(v); err == nil {
				graceMs = n
			} else {
				p.add("%s: CAAS_SHUTDOWN_GRACE_MS=%q is not a number", sp, v)
			}
		}
		stopMs := dockerDefaultStopMs
		if s.StopGracePeriod != nil {
			stopMs = int(time.Duration(*s.StopGracePeriod) / time.Millisecond)
		}
		if graceMs >= stopMs {
			p.add("%s: shutdown grace %d ms is not shorter than stop_grace_period %d ms (Docker kills it mid-drain)", sp, graceMs, stopMs)
		}

		closure := dependencyClosure(svcs, name)
		for _, group := range caasNeeds[kind] {
			for _, k := range group {
				if v, ok := get(k); !ok || strings.TrimSpace(v) == "" {
					p.add("%s: environment lacks %s (a %s service needs it)", sp, k, kind)
				}
			}
		}
		// Every server address resolves to a compose service this one waits for.
		for _, k := range backingAddressVars {
			v, ok := get(k)
			if !ok || v == "" {
				continue
			}
			hosts, err := addressHosts(k, v)
			if err != nil {
				p.add("%s: %s=%q: %v", sp, k, v, err)
				continue
			}
			for _, hp := range hosts {
				h := hostOnly(hp)
				if _, ok := svcs[h]; !ok {
					p.add("%s: %s points at %q, which is not a compose service", sp, k, h)
				} else if !closure[h] {
					p.add("%s: %s uses %q but the service does not depend_on it (directly or through an init service)", sp, k, h)
				}
			}
		}
		if v, ok := get("CAAS_MONGO_URL"); ok && !strings.Contains(v, "replicaSet=") {
			p.add("%s: CAAS_MONGO_URL names no replicaSet", sp)
		}

		// Peers: every CAAS kind, on its port, listing every instance of that kind.
		for _, k := range sortedKeys(peerURLVars) {
			peerKind := peerURLVars[k]
			v, ok := get(k)
			if !ok || v == "" {
				p.add("%s: environment lacks peer URL %s", sp, k)
				continue
			}
			hosts, err := addressHosts(k, v)
			if err != nil {
				p.add("%s: %s=%q: %v", sp, k, v, err)
				continue
			}
			seen := []string{}
			for _, hp := range hosts {
				h, portStr, _ := net.SplitHostPort(hp)
				if caasInstances[h] != peerKind {
					p.add("%s: %s names %q, which is not a %s instance", sp, k, h, peerKind)
					continue
				}
				if portStr != strconv.Itoa(caasPorts[peerKind]) {
					p.add("%s: %s names %s, but %s listens on %d", sp, k, hp, h, caasPorts[peerKind])
				}
				seen = append(seen, h)
			}
			for _, inst := range instancesOf[peerKind] {
				if !slices.Contains(seen, inst) {
					p.add("%s: %s omits instance %q", sp, k, inst)
				}
			}
		}
	}
	if len(images) > 1 {
		p.add("CAAS services use different images %v; build one image and share it", images)
	}
}

func checkEnvoyService(project *types.Project, projectDir string, p *problems) {
	s, ok := project.Services["envoy"]
	if !ok {
		return
	}
	if !strings.HasPrefix(s.Image, "envoyproxy/envoy") {
		p.add(`service "envoy": image %q is not envoyproxy/envoy`, s.Image)
	}
	want := filepath.Join(projectDir, "envoy", "envoy.yaml")
	mounted := false
	for _, v := range s.Volumes {
		if filepath.Clean(v.Source) == want {
			mounted = true
			if !v.ReadOnly {
				p.add(`service "envoy": mount envoy/envoy.yaml read-only`)
			}
			if cmd := strings.Join(s.Command, " "); cmd != "" && !strings.Contains(cmd, v.Target) {
				p.add(`service "envoy": command %q does not load the mounted %s`, cmd, v.Target)
			}
		}
	}
	if !mounted {
		p.add(`service "envoy": does not mount ./envoy/envoy.yaml`)
	}
	has8080 := false
	for _, port := range s.Ports {
		if port.Target == 8080 && port.Published != "" {
			has8080 = true
		}
	}
	if !has8080 {
		p.add(`service "envoy": does not publish port 8080`)
	}
}

// checkKafka: three KRaft combined-mode nodes agreeing on cluster id and quorum.
func checkKafka(project *types.Project, p *problems) {
	var clusterIDs, voters []string
	for _, name := range []string{"kafka-1", "kafka-2", "kafka-3"} {
		s, ok := project.Services[name]
		if !ok {
			continue
		}
		val := func(k string) string {
			if v := s.Environment[k]; v != nil {
				return *v
			}
			return ""
		}
		roles := val("KAFKA_PROCESS_ROLES")
		if !strings.Contains(roles, "broker") || !strings.Contains(roles, "controller") {
			p.add("service %q: KAFKA_PROCESS_ROLES=%q, want broker,controller (KRaft combined mode)", name, roles)
		}
		clusterIDs = append(clusterIDs, val("CLUSTER_ID"))
		voters = append(voters, val("KAFKA_CONTROLLER_QUORUM_VOTERS"))
		if adv := val("KAFKA_ADVERTISED_LISTENERS"); !strings.Contains(adv, "//"+name+":") {
			p.add("service %q: KAFKA_ADVERTISED_LISTENERS=%q does not advertise its own name", name, adv)
		}
	}
	if len(clusterIDs) > 0 && (distinct(clusterIDs) != 1 || clusterIDs[0] == "") {
		p.add("kafka brokers disagree on CLUSTER_ID (or it is empty): %v", clusterIDs)
	}
	if len(voters) > 0 && (distinct(voters) != 1 || voters[0] == "") {
		p.add("kafka brokers disagree on KAFKA_CONTROLLER_QUORUM_VOTERS (or it is empty): %v", voters)
	}
}

func distinct(xs []string) int {
	c := slices.Clone(xs)
	slices.Sort(c)
	return len(slices.Compact(c))
}

func hasHealthcheck(s types.ServiceConfig) bool {
	h := s.HealthCheck
	return h != nil && !h.Disable && len(h.Test) > 0 && h.Test[0] != "NONE"
}

// dependencyClosure: every service `name` waits for, directly or transitively.
func dependencyClosure(svcs types.Services, name string) map[string]bool {
	seen := map[string]bool{}
	var visit func(string)
	visit = func(n string) {
		for dep := range svcs[n].DependsOn {
			if !seen[dep] {
				seen[dep] = true
				visit(dep)
			}
		}
	}
	visit(name)
	return seen
}

// addressHosts extracts host:port entries from a server address variable:
// comma-separated URLs, a multi-host mongodb:// URL, or a host:port broker list.
func addressHosts(key, v string) ([]string, error) {
	var out []string
	switch {
	case key == "CAAS_KAFKA_BROKERS":
		for _, b := range strings.Split(v, ",") {
			b = strings.TrimSpace(b)
			if _, _, err := net.SplitHostPort(b); err != nil {
				return nil, fmt.Errorf("broker %q: %v", b, err)
			}
			out = append(out, b)
		}
	case strings.HasPrefix(v, "mongodb://"):
		rest := strings.TrimPrefix(v, "mongodb://")
		if at := strings.LastIndex(rest, "@"); at >= 0 {
			rest = rest[at+1:]
		}
		if i := strings.IndexAny(rest, "/?"); i >= 0 {
			rest = rest[:i]
		}
		for _, h := range strings.Split(rest, ",") {
			if _, _, err := net.SplitHostPort(h); err != nil {
				h = net.JoinHostPort(h, "27017")
			}
			out = append(out, h)
		}
	default:
		for _, raw := range strings.Split(v, ",") {
			u, err := url.Parse(strings.TrimSpace(raw))
			if err != nil {
				return nil, err
			}
			if u.Host == "" {
				return nil, fmt.Errorf("%q has no host", raw)
			}
			if u.Port() == "" {
				return nil, fmt.Errorf("%q has no explicit port", raw)
			}
			out = append(out, u.Host)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no address")
	}
	return out, nil
}

func hostOnly(hp string) string {
	if h, _, err := net.SplitHostPort(hp); err == nil {
		return h
	}
	return hp
}

func portList(ports []types.ServicePortConfig) []string {
	var out []string
	for _, p := range ports {
		out = append(out, fmt.Sprintf("%s:%s->%d", p.HostIP, p.Published, p.Target))
	}
	return out
}

func sortedNames(s types.Services) []string {
	out := make([]string, 0, len(s))
	for k := range s {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
