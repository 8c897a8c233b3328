package validate

import (
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	streamv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/stream/v3"
	corsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/cors/v3"
	luav3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/lua/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	upstreamhttpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
	"sigs.k8s.io/yaml"
)

// Type names (without the type.googleapis.com/ prefix) the edge checks look for.
const (
	typeHCM             = "envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"
	typeCors            = "envoy.extensions.filters.http.cors.v3.Cors"
	typeCorsPolicy      = "envoy.extensions.filters.http.cors.v3.CorsPolicy"
	typeGrpcWeb         = "envoy.extensions.filters.http.grpc_web.v3.GrpcWeb"
	typeLua             = "envoy.extensions.filters.http.lua.v3.Lua"
	typeHeaderMutation  = "envoy.extensions.filters.http.header_mutation.v3.HeaderMutation"
	typeRouter          = "envoy.extensions.filters.http.router.v3.Router"
	typeStdoutLog       = "envoy.extensions.access_loggers.stream.v3.StdoutAccessLog"
	typeHTTPProtoOpts   = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"
	websocketUpgrade    = "websocket"
	wsPath              = "/ws"
	edgeListenerAddress = "0.0.0.0"
	edgeListenerPort    = 8080
	adminPort           = 9901
)

// Canonical filter names and the config type each must carry, so a filter named
// "envoy.filters.http.cors" that actually configures something else is caught.
var canonicalHTTPFilterTypes = map[string]string{
	"envoy.filters.http.cors":            typeCors,
	"envoy.filters.http.grpc_web":        typeGrpcWeb,
	"envoy.filters.http.lua":             typeLua,
	"envoy.filters.http.header_mutation": typeHeaderMutation,
	"envoy.filters.http.router":          typeRouter,
}

// ParseEnvoy decodes an Envoy bootstrap YAML file into the v3 Bootstrap proto. Decoding
// is strict: duplicate YAML keys, unknown fields (at any depth, including inside typed
// Anys) and unresolvable "@type"s are errors, as they are for Envoy itself.
func ParseEnvoy(path string) (*bootstrapv3.Bootstrap, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	js, err := yaml.YAMLToJSONStrict(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: YAML: %w", path, err)
	}
	b := &bootstrapv3.Bootstrap{}
	if err := (protojson.UnmarshalOptions{DiscardUnknown: false}).Unmarshal(js, b); err != nil {
		return nil, fmt.Errorf("%s: not a valid envoy.config.bootstrap.v3.Bootstrap: %w", path, err)
	}
	return b, nil
}

// CheckEnvoySchema runs Envoy's validation rules (protoc-gen-validate, ValidateAll) on the
// bootstrap and on the content of every google.protobuf.Any found anywhere inside it
// (ValidateAll stops at an Any), recursively, and rejects deprecated fields and enum values.
func CheckEnvoySchema(b *bootstrapv3.Bootstrap) error {
	p := &problems{}
	validateMessage(b, "bootstrap", p)
	walkMessage(b.ProtoReflect(), "bootstrap", p)
	return p.err("envoy schema")
}

type validatorAll interface{ ValidateAll() error }
type validatorOne interface{ Validate() error }

func validateMessage(m proto.Message, path string, p *problems) {
	switch v := m.(type) {
	case validatorAll:
		if err := v.ValidateAll(); err != nil {
			p.add("%s: %v", path, err)
		}
	case validatorOne:
		if err := v.Validate(); err != nil {
			p.add("%s: %v", path, err)
		}
	}
}

// walkMessage visits every populated field below m: it flags deprecated fields and enum
// values and unpacks and validates every Any.
func walkMessage(m protoreflect.Message, path string, p *problems) {
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		fp := path + "." + string(fd.Name())
		if opts, ok := fd.Options().(*descriptorpb.FieldOptions); ok && opts.GetDeprecated() {
			p.add("%s: field is deprecated in %s", fp, fd.ContainingMessage().FullName())
		}
		switch {
		case fd.IsList():
			l := v.List()
			for i := 0; i < l.Len(); i++ {
				ip := fmt.Sprintf("%s[%d]", fp, i)
				if fd.Message() != nil {
					visitMessage(l.Get(i).Message(), ip, p)
				} else if fd.Enum() != nil {
					checkEnum(fd, l.Get(i).Enum(), ip, p)
				}
			}
		case fd.IsMap():
			if fd.MapValue().Message() != nil {
				v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
					visitMessage(mv.Message(), fmt.Sprintf("%s[%q]", fp, k.String()), p)
					return true
				})
			}
		case fd.Message() != nil:
			visitMessage(v.Message(), fp, p)
		case fd.Enum() != nil:
			checkEnum(fd, v.Enum(), fp, p)
		}
		return true
	})
}

func checkEnum(fd protoreflect.FieldDescriptor, n protoreflect.EnumNumber, path string, p *problems) {
	ev := fd.Enum().Values().ByNumber(n)
	if ev == nil {
		return
	}
	if opts, ok := ev.Options().(*descriptorpb.EnumValueOptions); ok && opts.GetDeprecated() {
		p.add("%s: enum value %s is deprecated", path, ev.Name())
	}
}

func visitMessage(m protoreflect.Message, path string, p *problems) {
	if m.Descriptor().FullName() != "google.protobuf.Any" {
		walkMessage(m, path, p)
		return
	}
	a, ok := m.Interface().(*anypb.Any)
	if !ok {
		p.add("%s: Any of unexpected Go type %T", path, m.Interface())
		return
	}
	inner, err := a.UnmarshalNew()
	if err != nil {
		p.add("%s: cannot unpack %q: %v", path, a.GetTypeUrl(), err)
		return
	}
	ip := path + "<" + string(inner.ProtoReflect().Descriptor().Name()) + ">"
	validateMessage(inner, ip, p)
	walkMessage(inner.ProtoReflect(), ip, p)
}

func anyTypeName(a *anypb.Any) string {
	u := a.GetTypeUrl()
	return u[strings.LastIndex(u, "/")+1:]
}

func unpack[T proto.Message](a *anypb.Any, dst T) (T, bool) {
	if a == nil || a.UnmarshalTo(dst) != nil {
		var zero T
		return zero, false
	}
	return dst, true
}

// enabledOr reads an optional BoolValue ("enabled" defaults to true in upgrade configs).
func enabledOr(v *wrapperspb.BoolValue, def bool) bool {
	if v == nil {
		return def
	}
	return v.GetValue()
}

// CheckEnvoyEdge checks what the proto schema cannot: cross references inside the file
// and the CAAS edge contract (listener, clusters, filter chain, /ws, CORS, ids, logs).
func CheckEnvoyEdge(b *bootstrapv3.Bootstrap) error {
	p := &problems{}

	// Admin: loopback only.
	if sa := b.GetAdmin().GetAddress().GetSocketAddress(); sa == nil {
		p.add("admin: no socket address (want 127.0.0.1:%d)", adminPort)
	} else if !isLoopback(sa.GetAddress()) || sa.GetPortValue() != adminPort {
		p.add("admin: listens on %s:%d, want loopback 127.0.0.1:%d (the admin API can stop the proxy)",
			sa.GetAddress(), sa.GetPortValue(), adminPort)
	}

	// Clusters: unique names, endpoints consistent.
	clusters := map[string]*clusterv3.Cluster{}
	for i, c := range b.GetStaticResources().GetClusters() {
		if _, dup := clusters[c.GetName()]; dup {
			p.add("clusters[%d]: duplicate cluster name %q", i, c.GetName())
		}
		clusters[c.GetName()] = c
		checkCluster(c, p)
	}
	if b.GetDynamicResources().GetCdsConfig() != nil {
		p.add("dynamic_resources.cds_config: the edge is static; cluster references cannot be checked against CDS")
	}

	// Listeners.
	seenListener := map[string]bool{}
	seenAddr := map[string]string{}
	edgeFound := false
	hcmCount := 0
	for i, l := range b.GetStaticResources().GetListeners() {
		lp := fmt.Sprintf("listener %q", l.GetName())
		if l.GetName() == "" {
			lp = fmt.Sprintf("listeners[%d]", i)
		}
		if seenListener[l.GetName()] {
			p.add("%s: duplicate listener name", lp)
		}
		seenListener[l.GetName()] = true
		if sa := l.GetAddress().GetSocketAddress(); sa != nil {
			key := fmt.Sprintf("%s:%d", sa.GetAddress(), sa.GetPortValue())
			if other, dup := seenAddr[key]; dup {
				p.add("%s: address %s already used by listener %q", lp, key, other)
			}
			seenAddr[key] = l.GetName()
			if sa.GetAddress() == edgeListenerAddress && sa.GetPortValue() == edgeListenerPort {
				edgeFound = true
			}
		}
		chains := l.GetFilterChains()
		if l.GetDefaultFilterChain() != nil {
			chains = append(chains, l.GetDefaultFilterChain())
		}
		for ci, fc := range chains {
			for fi, f := range fc.GetFilters() {
				if anyTypeName(f.GetTypedConfig()) != typeHCM {
					continue
				}
				hcm, ok := unpack(f.GetTypedConfig(), &hcmv3.HttpConnectionManager{})
				if !ok {
					p.add("%s filter_chains[%d].filters[%d]: cannot unpack HttpConnectionManager", lp, ci, fi)
					continue
				}
				hcmCount++
				checkHCM(hcm, fmt.Sprintf("%s filter_chains[%d] HttpConnectionManager", lp, ci), clusters, p)
			}
		}
	}
	if !edgeFound {
		p.add("no listener on %s:%d", edgeListenerAddress, edgeListenerPort)
	}
	if hcmCount == 0 {
		p.add("no HttpConnectionManager in any listener")
	}

	// The two CAAS upstreams.
	if gw, ok := clusters["gateway"]; !ok {
		p.add(`cluster "gateway" missing`)
	} else if !explicitHTTP2(gw) {
		p.add(`cluster "gateway": must speak h2c: typed_extension_protocol_options[%q].explicit_http_config.http2_protocol_options`, typeHTTPProtoOpts)
	}
	if s, ok := clusters["socket"]; !ok {
		p.add(`cluster "socket" missing`)
	} else {
		if s.GetLbPolicy() != clusterv3.Cluster_ROUND_ROBIN {
			p.add(`cluster "socket": lb_policy %s, want ROUND_ROBIN`, s.GetLbPolicy())
		}
		if explicitHTTP2(s) {
			p.add(`cluster "socket": must stay HTTP/1.1 upstream (WebSocket upgrade), found explicit http2`)
		}
		got := clusterEndpoints(s)
		for _, want := range []string{"socket-1:3002", "socket-2:3002"} {
			if !slices.Contains(got, want) {
				p.add(`cluster "socket": endpoint %s missing (have %v)`, want, got)
			}
		}
	}
	return p.err("envoy edge")
}

func isLoopback(a string) bool {
	return a == "127.0.0.1" || a == "::1" || a == "localhost"
}

func checkCluster(c *clusterv3.Cluster, p *problems) {
	cp := fmt.Sprintf("cluster %q", c.GetName())
	la := c.GetLoadAssignment()
	if la != nil && la.GetClusterName() != "" && la.GetClusterName() != c.GetName() {
		p.add("%s: load_assignment.cluster_name is %q", cp, la.GetClusterName())
	}
	switch c.GetType() {
	case clusterv3.Cluster_STRICT_DNS, clusterv3.Cluster_LOGICAL_DNS, clusterv3.Cluster_STATIC:
		if len(clusterEndpoints(c)) == 0 {
			p.add("%s: %s cluster without endpoints", cp, c.GetType())
		}
	}
	for key, a := range c.GetTypedExtensionProtocolOptions() {
		if anyTypeName(a) == typeHTTPProtoOpts && key != typeHTTPProtoOpts {
			p.add("%s: typed_extension_protocol_options key %q must be %q", cp, key, typeHTTPProtoOpts)
		}
	}
}

// clusterEndpoints lists host:port of every socket-address endpoint.
func clusterEndpoints(c *clusterv3.Cluster) []string {
	var out []string
	for _, le := range c.GetLoadAssignment().GetEndpoints() {
		for _, lb := range le.GetLbEndpoints() {
			if sa := lb.GetEndpoint().GetAddress().GetSocketAddress(); sa != nil {
				out = append(out, fmt.Sprintf("%s:%d", sa.GetAddress(), sa.GetPortValue()))
			}
		}
	}
	return out
}

func explicitHTTP2(c *clusterv3.Cluster) bool {
	a, ok := c.GetTypedExtensionProtocolOptions()[typeHTTPProtoOpts]
	if !ok {
		return false
	}
	o, ok := unpack(a, &upstreamhttpv3.HttpProtocolOptions{})
	return ok && o.GetExplicitHttpConfig().GetHttp2ProtocolOptions() != nil
}

func checkHCM(h *hcmv3.HttpConnectionManager, hp string, clusters map[string]*clusterv3.Cluster, p *problems) {
	if h.GetCodecType() != hcmv3.HttpConnectionManager_AUTO {
		p.add("%s: codec_type %s, want AUTO (HTTP/1.1 for browsers and h2c for gRPC on one port)", hp, h.GetCodecType())
	}
	if h.GetGenerateRequestId() == nil || !h.GetGenerateRequestId().GetValue() {
		p.add("%s: generate_request_id must be set to true", hp)
	}

	// HTTP filter chain: typed, coherent names, required filters, order, router last.
	filters := h.GetHttpFilters()
	names := map[string]bool{}
	index := map[string]int{} // config type -> first position
	for i, f := range filters {
		fp := fmt.Sprintf("%s http_filters[%d] %q", hp, i, f.GetName())
		if names[f.GetName()] {
			p.add("%s: duplicate filter name", fp)
		}
		names[f.GetName()] = true
		if f.GetTypedConfig() == nil {
			if f.GetConfigDiscovery() == nil {
				p.add("%s: no typed_config", fp)
			}
			continue
		}
		t := anyTypeName(f.GetTypedConfig())
		if want, ok := canonicalHTTPFilterTypes[f.GetName()]; ok && want != t {
			p.add("%s: filter name says %s but typed_config is %s", fp, want, t)
		}
		if _, seen := index[t]; !seen {
			index[t] = i
		}
		if t == typeRouter && i != len(filters)-1 {
			p.add("%s: the router must be the last HTTP filter (it is at %d of %d)", fp, i+1, len(filters))
		}
	}
	if len(filters) == 0 || anyTypeName(filters[len(filters)-1].GetTypedConfig()) != typeRouter {
		p.add("%s: the last HTTP filter must be envoy.filters.http.router", hp)
	}
	pos := func(t string) int {
		if i, ok := index[t]; ok {
			return i
		}
		return -1
	}
	corsAt, grpcWebAt, routerAt := pos(typeCors), pos(typeGrpcWeb), pos(typeRouter)
	idAt := pos(typeLua)
	if idAt < 0 {
		idAt = pos(typeHeaderMutation)
	}
	if corsAt >= 0 {
		p.add("%s: envoy.filters.http.cors present: Envoy must not answer CORS itself; the gateway applies CAAS_CORS_ORIGINS (and the socket instances the same list to /ws)", hp)
	}
	if grpcWebAt < 0 {
		p.add("%s: envoy.filters.http.grpc_web missing", hp)
	}
	if idAt < 0 {
		p.add("%s: no envoy.filters.http.lua (or header_mutation) setting x-correlation-id", hp)
	}
	if grpcWebAt >= 0 && idAt >= 0 && grpcWebAt > idAt {
		p.add("%s: grpc_web must come before the correlation-id filter", hp)
	}
	if idAt >= 0 && routerAt >= 0 && idAt > routerAt {
		p.add("%s: the correlation-id filter must come before the router", hp)
	}
	if i := pos(typeLua); i >= 0 {
		checkLua(filters[i].GetTypedConfig(), fmt.Sprintf("%s http_filters[%d]", hp, i), p)
	}

	checkAccessLog(h, hp, p)

	// WebSocket at the connection-manager level (a route may override).
	hcmWS := false
	for _, u := range h.GetUpgradeConfigs() {
		if strings.EqualFold(u.GetUpgradeType(), websocketUpgrade) {
			hcmWS = enabledOr(u.GetEnabled(), true)
		}
	}

	if h.GetRds() != nil || h.GetScopedRoutes() != nil {
		p.add("%s: routes come from RDS/scoped routes; the edge must use a static route_config so references can be checked", hp)
		return
	}
	rc := h.GetRouteConfig()
	if rc == nil {
		p.add("%s: no route_config", hp)
		return
	}
	wsFound, catchAllToGateway := false, false
	for _, vh := range rc.GetVirtualHosts() {
		vp := fmt.Sprintf("%s virtual_host %q", hp, vh.GetName())
		checkPerFilterKeys(vh.GetTypedPerFilterConfig(), names, vp, p)
		if corsPolicy(vh.GetTypedPerFilterConfig()) != nil {
			p.add("%s: a CORS policy: Envoy must not answer CORS itself; the gateway applies CAAS_CORS_ORIGINS", vp)
		}
		routes := vh.GetRoutes()
		for ri, r := range routes {
			rp := fmt.Sprintf("%s route[%d] %q", vp, ri, r.GetName())
			checkPerFilterKeys(r.GetTypedPerFilterConfig(), names, rp, p)
			if corsPolicy(r.GetTypedPerFilterConfig()) != nil {
				p.add("%s: a CORS policy: Envoy must not answer CORS itself; the gateway applies CAAS_CORS_ORIGINS", rp)
			}
			for si := 0; si < ri; si++ {
				if shadows(routes[si].GetMatch(), r.GetMatch()) {
					p.add("%s: unreachable, route[%d] %q matches every request it would", rp, si, routes[si].GetName())
				}
			}
			a := r.GetRoute()
			if a == nil {
				continue
			}
			for _, name := range routeClusters(a) {
				if _, ok := clusters[name]; !ok {
					p.add("%s: cluster %q is not defined in static_resources.clusters", rp, name)
				}
			}
			if a.GetClusterHeader() != "" {
				p.add("%s: cluster_header routing cannot be checked; name clusters explicitly", rp)
			}
			if a.GetTimeout() == nil {
				p.add("%s: no explicit timeout (Envoy's default of 15 s would cut long-lived streams)", rp)
			}

			m := r.GetMatch()
			isWS := m.GetPath() == wsPath || m.GetPrefix() == wsPath || m.GetPathSeparatedPrefix() == wsPath
			if isWS {
				wsFound = true
				ws := hcmWS
				for _, u := range a.GetUpgradeConfigs() {
					if strings.EqualFold(u.GetUpgradeType(), websocketUpgrade) {
						ws = enabledOr(u.GetEnabled(), true)
					}
				}
				if !ws {
					p.add("%s: %s does not allow the websocket upgrade (upgrade_configs)", rp, wsPath)
				}
				if a.GetCluster() != "socket" {
					p.add("%s: %s must route to cluster \"socket\", not %q", rp, wsPath, a.GetCluster())
				}
				if a.GetTimeout() != nil && a.GetTimeout().AsDuration() != 0 {
					p.add("%s: %s needs timeout 0s (disabled), has %s", rp, wsPath, a.GetTimeout().AsDuration())
				}
			}
			if m.GetPrefix() == "/" && len(m.GetHeaders()) == 0 && a.GetCluster() == "gateway" {
				catchAllToGateway = true
				if a.GetTimeout() != nil && a.GetTimeout().AsDuration() != 0 {
					p.add("%s: the gateway route carries server streams and needs timeout 0s, has %s", rp, a.GetTimeout().AsDuration())
				}
			}
		}
	}
	if !wsFound {
		p.add("%s: no route for %s", hp, wsPath)
	}
	if !catchAllToGateway {
		p.add(`%s: no catch-all route (prefix "/") to cluster "gateway"`, hp)
	}
}

// routeClusters lists every cluster a route action can send to (or mirror to).
func routeClusters(a *routev3.RouteAction) []string {
	var out []string
	if a.GetCluster() != "" {
		out = append(out, a.GetCluster())
	}
	for _, w := range a.GetWeightedClusters().GetClusters() {
		out = append(out, w.GetName())
	}
	for _, m := range a.GetRequestMirrorPolicies() {
		if m.GetCluster() != "" {
			out = append(out, m.GetCluster())
		}
	}
	return out
}

// checkPerFilterKeys: typed_per_filter_config is keyed by filter name; a key naming no
// filter of this connection manager is silently ignored by Envoy.
func checkPerFilterKeys(m map[string]*anypb.Any, names map[string]bool, where string, p *problems) {
	for k := range m {
		if !names[k] {
			p.add("%s: typed_per_filter_config[%q] names no HTTP filter of this listener", where, k)
		}
	}
}

func corsPolicy(m map[string]*anypb.Any) *corsv3.CorsPolicy {
	for _, a := range m {
		if anyTypeName(a) == typeCorsPolicy {
			if c, ok := unpack(a, &corsv3.CorsPolicy{}); ok {
				return c
			}
		}
	}
	return nil
}

func checkLua(a *anypb.Any, where string, p *problems) {
	l, ok := unpack(a, &luav3.Lua{})
	if !ok {
		p.add("%s: cannot unpack Lua config", where)
		return
	}
	code := l.GetDefaultSourceCode().GetInlineString() + l.GetInlineCode()
	for _, want := range []string{"envoy_on_request", "x-correlation-id", "x-request-id"} {
		if !strings.Contains(strings.ToLower(code), want) {
			p.add("%s: Lua code does not mention %s (it must set x-correlation-id from x-request-id)", where, want)
		}
	}
}

func checkAccessLog(h *hcmv3.HttpConnectionManager, hp string, p *problems) {
	for _, al := range h.GetAccessLog() {
		if anyTypeName(al.GetTypedConfig()) != typeStdoutLog {
			continue
		}
		s, ok := unpack(al.GetTypedConfig(), &streamv3.StdoutAccessLog{})
		if !ok || s.GetLogFormat().GetJsonFormat() == nil {
			continue
		}
		text := strings.ToUpper(structText(s.GetLogFormat().GetJsonFormat()))
		missing := []string{}
		for _, want := range []string{"%REQ(X-REQUEST-ID)%", "%REQ(X-CORRELATION-ID)%"} {
			if !strings.Contains(text, want) {
				missing = append(missing, want)
			}
		}
		if len(missing) > 0 {
			p.add("%s: JSON access log lacks %s", hp, strings.Join(missing, ", "))
		}
		return
	}
	p.add("%s: no JSON access log to stdout (envoy.access_loggers.stdout with json_format)", hp)
}

func structText(s *structpb.Struct) string {
	var b strings.Builder
	var walk func(v *structpb.Value)
	walk = func(v *structpb.Value) {
		switch k := v.GetKind().(type) {
		case *structpb.Value_StringValue:
			b.WriteString(k.StringValue + "\n")
		case *structpb.Value_StructValue:
			for _, f := range k.StructValue.GetFields() {
				walk(f)
			}
		case *structpb.Value_ListValue:
			for _, e := range k.ListValue.GetValues() {
				walk(e)
			}
		}
	}
	for _, v := range s.GetFields() {
		walk(v)
	}
	return b.String()
}

// shadows reports whether an earlier, unconditional route match `a` catches every
// request the literal path or prefix of route match `b` would.
func shadows(a, b *routev3.RouteMatch) bool {
	if len(a.GetHeaders()) > 0 || len(a.GetQueryParameters()) > 0 || len(a.GetCookies()) > 0 ||
		a.GetGrpc() != nil || a.GetTlsContext() != nil || a.GetRuntimeFraction() != nil ||
		len(a.GetDynamicMetadata()) > 0 || len(a.GetFilterState()) > 0 || a.GetConnectMatcher() != nil ||
		a.GetPathMatchPolicy() != nil {
		return false
	}
	if a.GetCaseSensitive() != nil && !a.GetCaseSensitive().GetValue() {
		return false // keep it simple: no case folding
	}
	lit, isPrefix := b.GetPath(), false
	if lit == "" {
		lit, isPrefix = b.GetPrefix(), true
	}
	if lit == "" {
		if lit = b.GetPathSeparatedPrefix(); lit == "" {
			return false
		}
		isPrefix = true
	}
	switch {
	case a.GetPrefix() != "":
		return strings.HasPrefix(lit, a.GetPrefix())
	case a.GetPath() != "":
		return !isPrefix && a.GetPath() == lit
	case a.GetSafeRegex() != nil:
		re, err := regexp.Compile("^(?:" + a.GetSafeRegex().GetRegex() + ")$")
		return err == nil && !isPrefix && re.MatchString(lit)
	case a.GetPathSeparatedPrefix() != "":
		pp := a.GetPathSeparatedPrefix()
		if isPrefix {
			return strings.HasPrefix(lit, pp+"/")
		}
		return lit == pp || strings.HasPrefix(lit, pp+"/")
	}
	return false
}

// EnvoyUpstreams lists host:port of every DNS/static endpoint, by cluster name.
func EnvoyUpstreams(b *bootstrapv3.Bootstrap) map[string][]string {
	out := map[string][]string{}
	for _, c := range b.GetStaticResources().GetClusters() {
		out[c.GetName()] = clusterEndpoints(c)
	}
	return out
}

// ValidateEnvoyFile parses the file and runs the schema and edge checks.
func ValidateEnvoyFile(path string) (*bootstrapv3.Bootstrap, error) {
	b, err := ParseEnvoy(path)
	if err != nil {
		return nil, err
	}
	var errs []string
	if err := CheckEnvoySchema(b); err != nil {
		errs = append(errs, err.Error())
	}
	if err := CheckEnvoyEdge(b); err != nil {
		errs = append(errs, err.Error())
	}
	if len(errs) > 0 {
		return b, fmt.Errorf("%s:\n%s", path, strings.Join(errs, "\n"))
	}
	return b, nil
}
