package validate

import (
	"fmt"
	"net"
	"slices"
	"strconv"

	"github.com/compose-spec/compose-go/v2/types"
	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
)

// CheckEnvoyAgainstCompose checks the two files against each other: every Envoy upstream
// endpoint is a compose service, on a port that service listens on (listenPorts), and the envoy
// service waits for it to be healthy.
func CheckEnvoyAgainstCompose(b *bootstrapv3.Bootstrap, project *types.Project) error {
	p := &problems{}
	envoySvc, ok := project.Services["envoy"]
	if !ok {
		p.add(`compose has no "envoy" service`)
	}
	for _, cluster := range sortedKeys(EnvoyUpstreams(b)) {
		for _, hp := range EnvoyUpstreams(b)[cluster] {
			host, portStr, err := net.SplitHostPort(hp)
			if err != nil {
				p.add("envoy cluster %q: endpoint %q: %v", cluster, hp, err)
				continue
			}
			if _, ok := project.Services[host]; !ok {
				p.add("envoy cluster %q: endpoint host %q is not a compose service", cluster, host)
				continue
			}
			// The port the service really listens on (a CAAS service: its CAAS_<KIND>_PORT).
			port, _ := strconv.Atoi(portStr)
			if ports := listenPorts(host, project.Services[host]); !slices.Contains(ports, port) {
				p.add("envoy cluster %q: endpoint %s, but %s listens on %v", cluster, hp, host, ports)
			}
			if ok && envoySvc.DependsOn[host].Condition != types.ServiceConditionHealthy {
				p.add("envoy cluster %q: compose service envoy does not wait for %q to be healthy", cluster, host)
			}
		}
	}
	return p.err(fmt.Sprintf("envoy vs compose (%d clusters)", len(b.GetStaticResources().GetClusters())))
}
