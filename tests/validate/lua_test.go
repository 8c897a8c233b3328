package validate

import (
	"strings"
	"testing"

	luav3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/lua/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	lua "github.com/yuin/gopher-lua"
)

// edgeLua returns the inline code of the Lua HTTP filter in envoy.yaml.
func edgeLua(t *testing.T) string {
	t.Helper()
	b, err := ParseEnvoy(envoyConfigPath(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range b.GetStaticResources().GetListeners() {
		for _, fc := range l.GetFilterChains() {
			for _, f := range fc.GetFilters() {
				hcm, ok := unpack(f.GetTypedConfig(), &hcmv3.HttpConnectionManager{})
				if !ok {
					continue
				}
				for _, hf := range hcm.GetHttpFilters() {
					if l, ok := unpack(hf.GetTypedConfig(), &luav3.Lua{}); ok {
						return l.GetDefaultSourceCode().GetInlineString()
					}
				}
			}
		}
	}
	t.Fatal("no Lua filter in envoy.yaml")
	return ""
}

// runOnRequest runs envoy_on_request against a stand-in for Envoy's stream handle
// (headers():get/replace/remove) and returns the resulting request headers. Envoy runs
// LuaJIT (Lua 5.1); gopher-lua implements Lua 5.1 and its patterns.
func runOnRequest(t *testing.T, code string, in map[string]string) map[string]string {
	t.Helper()
	L := lua.NewState()
	defer L.Close()
	if err := L.DoString(code); err != nil {
		t.Fatalf("Lua does not load: %v", err)
	}
	headers := map[string]string{}
	for k, v := range in {
		headers[k] = v
	}
	hdr := L.NewTable()
	L.SetField(hdr, "get", L.NewFunction(func(L *lua.LState) int {
		if v, ok := headers[strings.ToLower(L.CheckString(2))]; ok {
			L.Push(lua.LString(v))
		} else {
			L.Push(lua.LNil)
		}
		return 1
	}))
	L.SetField(hdr, "replace", L.NewFunction(func(L *lua.LState) int {
		headers[strings.ToLower(L.CheckString(2))] = L.CheckString(3)
		return 0
	}))
	L.SetField(hdr, "remove", L.NewFunction(func(L *lua.LState) int {
		delete(headers, strings.ToLower(L.CheckString(2)))
		return 0
	}))
	handle := L.NewTable()
	L.SetField(handle, "headers", L.NewFunction(func(L *lua.LState) int {
		L.Push(hdr)
		return 1
	}))
	if err := L.CallByParam(lua.P{Fn: L.GetGlobal("envoy_on_request"), NRet: 0, Protect: true}, handle); err != nil {
		t.Fatalf("envoy_on_request failed: %v", err)
	}
	return headers
}

func TestEdgeLuaSetsCorrelationID(t *testing.T) {
	code := edgeLua(t)
	long := strings.Repeat("a", 129)
	cases := []struct {
		name string
		in   map[string]string
		want string // expected x-correlation-id ("" = absent)
	}{
		{"none sent: use the request id", map[string]string{"x-request-id": "rid-1"}, "rid-1"},
		{"sane client id kept", map[string]string{"x-request-id": "rid-2", "x-correlation-id": "web-01J.abc:def_9-x"}, "web-01J.abc:def_9-x"},
		{"empty replaced", map[string]string{"x-request-id": "rid-3", "x-correlation-id": ""}, "rid-3"},
		{"spaces and newlines replaced", map[string]string{"x-request-id": "rid-4", "x-correlation-id": "a b\nforged log line"}, "rid-4"},
		{"too long replaced", map[string]string{"x-request-id": "rid-5", "x-correlation-id": long}, "rid-5"},
		{"128 characters kept", map[string]string{"x-request-id": "rid-6", "x-correlation-id": long[:128]}, long[:128]},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := runOnRequest(t, code, c.in)["x-correlation-id"]
			if got != c.want {
				t.Fatalf("x-correlation-id = %q, want %q", got, c.want)
			}
		})
	}
}
