package validate

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"google.golang.org/protobuf/types/known/anypb"
)

func loadEdgeAndCompose(t *testing.T) (root string, services []string) {
	t.Helper()
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	services, err = PublicServices(root)
	if err != nil {
		t.Fatal(err)
	}
	return root, services
}

func TestEdgeRoutesAndUpstreamPorts(t *testing.T) {
	root, services := loadEdgeAndCompose(t)
	for _, want := range []string{"caas.chat.v1.ChatService", "caas.gateway.v1.PlatformService", "caas.realtime.v1.RealtimeService"} {
		if !contains(services, want) {
			t.Fatalf("public services %v lack %s: the proto scan is wrong", services, want)
		}
	}
	for _, s := range services {
		if strings.HasSuffix(s, "InternalService") {
			t.Fatalf("%s is internal", s)
		}
	}
	b, err := ParseEnvoy(envoyConfigPath(t))
	if err != nil {
		t.Fatal(err)
	}
	project, err := LoadCompose(context.Background(), filepath.Join(root, "docker-compose.yml"), root)
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckEnvoyAgainstCompose(b, project); err != nil {
		t.Fatal(err)
	}
	if err := CheckEdgeRoutes(b, services); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d public services and /ws routed; upstreams %v", len(services), EnvoyUpstreams(b))
}

// Each case breaks the real files in memory in one way the check must catch.
func TestEdgeRoutesAndUpstreamPortsReject(t *testing.T) {
	root, services := loadEdgeAndCompose(t)
	cases := map[string]struct {
		mutate func(t *testing.T, clusters []*clusterv3.Cluster, hcm *hcmv3.HttpConnectionManager)
		want   string
	}{
		"wrong gateway port": {
			mutate: func(t *testing.T, cs []*clusterv3.Cluster, _ *hcmv3.HttpConnectionManager) {
				endpoint(t, cs, "gateway").GetSocketAddress().PortSpecifier = portValue(3001)
			},
			want: `envoy cluster "gateway": endpoint gateway:3001, but gateway listens on [3000]`,
		},
		"unknown host": {
			mutate: func(t *testing.T, cs []*clusterv3.Cluster, _ *hcmv3.HttpConnectionManager) {
				endpoint(t, cs, "socket").GetSocketAddress().Address = "socket-9"
			},
			want: `envoy cluster "socket": endpoint host "socket-9" is not a compose service`,
		},
		"a public service diverted": {
			mutate: func(t *testing.T, _ []*clusterv3.Cluster, h *hcmv3.HttpConnectionManager) {
				vh := h.GetRouteConfig().GetVirtualHosts()[0]
				r := &routev3.Route{
					Name:   "chat-to-socket",
					Match:  &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: "/caas.chat.v1.ChatService/"}},
					Action: &routev3.Route_Route{Route: &routev3.RouteAction{ClusterSpecifier: &routev3.RouteAction_Cluster{Cluster: "socket"}}},
				}
				vh.Routes = append([]*routev3.Route{r}, vh.Routes...)
			},
			want: `/caas.chat.v1.ChatService: route "chat-to-socket" sends it to cluster "socket", want "gateway"`,
		},
		"no /ws route": {
			mutate: func(t *testing.T, _ []*clusterv3.Cluster, h *hcmv3.HttpConnectionManager) {
				vh := h.GetRouteConfig().GetVirtualHosts()[0]
				var kept []*routev3.Route
				for _, r := range vh.GetRoutes() {
					if r.GetMatch().GetPath() != wsPath {
						kept = append(kept, r)
					}
				}
				vh.Routes = kept
			},
			want: `/ws: route "gateway" sends it to cluster "gateway", want "socket"`,
		},
	}
	project, err := LoadCompose(context.Background(), filepath.Join(root, "docker-compose.yml"), root)
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			b, err := ParseEnvoy(envoyConfigPath(t))
			if err != nil {
				t.Fatal(err)
			}
			hcm, at := edgeHCM(t, b.GetStaticResources().GetListeners()[0].GetFilterChains()[0].GetFilters()[0].GetTypedConfig())
			c.mutate(t, b.GetStaticResources().GetClusters(), hcm)
			if err := at.MarshalFrom(hcm); err != nil {
				t.Fatal(err)
			}
			err = CheckEnvoyAgainstCompose(b, project)
			if routes := CheckEdgeRoutes(b, services); routes != nil {
				if err == nil {
					err = routes
				} else {
					err = fmt.Errorf("%v\n%v", err, routes)
				}
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("want a problem containing %q, got %v", c.want, err)
			}
		})
	}
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// endpoint is the first endpoint address of the named cluster.
func endpoint(t *testing.T, cs []*clusterv3.Cluster, name string) *corev3.Address {
	t.Helper()
	for _, c := range cs {
		if c.GetName() == name {
			return c.GetLoadAssignment().GetEndpoints()[0].GetLbEndpoints()[0].GetEndpoint().GetAddress()
		}
	}
	t.Fatalf("no cluster %q", name)
	return nil
}

func portValue(n uint32) *corev3.SocketAddress_PortValue {
	return &corev3.SocketAddress_PortValue{PortValue: n}
}

// edgeHCM unpacks the edge listener's HttpConnectionManager; the caller packs it back into `a`.
func edgeHCM(t *testing.T, a *anypb.Any) (*hcmv3.HttpConnectionManager, *anypb.Any) {
	t.Helper()
	h, ok := unpack(a, &hcmv3.HttpConnectionManager{})
	if !ok {
		t.Fatal("the edge listener's first filter is not an HttpConnectionManager")
	}
	return h, a
}
