package validate

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
)

// PublicServices lists the fully qualified gRPC services clients call through the edge: every
// service declared under proto/caas except the *InternalService ones (service-to-service only).
func PublicServices(root string) ([]string, error) {
	var out []string
	pkgRe := regexp.MustCompile(`(?m)^package\s+([\w.]+)\s*;`)
	svcRe := regexp.MustCompile(`(?m)^service\s+(\w+)\s*\{`)
	err := filepath.WalkDir(filepath.Join(root, "proto", "caas"), func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".proto") {
			return err
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		pkg := pkgRe.FindSubmatch(src)
		for _, m := range svcRe.FindAllSubmatch(src, -1) {
			if pkg == nil {
				return fmt.Errorf("%s: service %s without a package", path, m[1])
			}
			if !strings.HasSuffix(string(m[1]), "InternalService") {
				out = append(out, string(pkg[1])+"."+string(m[1]))
			}
		}
		return nil
	})
	sort.Strings(out)
	return out, err
}

// listenPorts is what a compose service listens on inside its container: a CAAS service its
// CAAS_<KIND>_PORT (what the process binds), any other its declared expose and published targets.
func listenPorts(name string, s types.ServiceConfig) []int {
	if kind, ok := caasInstances[name]; ok {
		if v := s.Environment["CAAS_"+strings.ToUpper(kind)+"_PORT"]; v != nil {
			if n, err := strconv.Atoi(*v); err == nil {
				return []int{n}
			}
		}
		return nil
	}
	var out []int
	for _, e := range s.Expose {
		if n, err := strconv.Atoi(strings.SplitN(e, "/", 2)[0]); err == nil {
			out = append(out, n)
		}
	}
	for _, p := range s.Ports {
		out = append(out, int(p.Target))
	}
	return out
}

// CheckEdgeRoutes checks that every public service's path and /ws reach the right cluster
// (gateway; socket). Routes are evaluated in order, first unconditional match wins (a route with
// header, query or other conditions is passed over: a request without them falls through it).
func CheckEdgeRoutes(b *bootstrapv3.Bootstrap, publicServices []string) error {
	p := &problems{}
	routes := edgeRoutes(b)
	if len(routes) == 0 {
		p.add("no routes on the edge listener's HttpConnectionManager")
	}
	want := map[string]string{wsPath: "socket"}
	for _, svc := range publicServices {
		want["/"+svc+"/"] = "gateway"
	}
	paths := make([]string, 0, len(want))
	for path := range want {
		paths = append(paths, path)
	}
	sort.Strings(paths)
	for _, path := range paths {
		probe := path
		if path != wsPath {
			probe += "Any"
		}
		r := firstRoute(routes, probe)
		switch {
		case r == nil:
			p.add("%s: no route reaches it", strings.TrimSuffix(path, "/"))
		case r.GetRoute() == nil:
			p.add("%s: route %q does not forward (redirect or direct response)", strings.TrimSuffix(path, "/"), r.GetName())
		case r.GetRoute().GetCluster() != want[path]:
			p.add("%s: route %q sends it to cluster %q, want %q", strings.TrimSuffix(path, "/"), r.GetName(), r.GetRoute().GetCluster(), want[path])
		}
	}
	return p.err("envoy routes")
}

// edgeRoutes: the routes of the first virtual host of the HCM on the edge listener.
func edgeRoutes(b *bootstrapv3.Bootstrap) []*routev3.Route {
	for _, l := range b.GetStaticResources().GetListeners() {
		sa := l.GetAddress().GetSocketAddress()
		if sa == nil || sa.GetPortValue() != edgeListenerPort {
			continue
		}
		for _, fc := range l.GetFilterChains() {
			for _, f := range fc.GetFilters() {
				if anyTypeName(f.GetTypedConfig()) != typeHCM {
					continue
				}
				if h, ok := unpack(f.GetTypedConfig(), &hcmv3.HttpConnectionManager{}); ok {
					for _, vh := range h.GetRouteConfig().GetVirtualHosts() {
						return vh.GetRoutes()
					}
				}
			}
		}
	}
	return nil
}

func firstRoute(routes []*routev3.Route, path string) *routev3.Route {
	probe := &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Path{Path: path}}
	for _, r := range routes {
		if shadows(r.GetMatch(), probe) {
			return r
		}
	}
	return nil
}
