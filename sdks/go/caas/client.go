// Package caas is a thin client for a CAAS gateway: every public service as a generated
// connect-go client on one base URL, a bearer token attached to each call (fixed, or from a
// TokenSource that refreshes), typed errors, and a realtime session that resumes from a cursor.
package caas

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"strings"

	"connectrpc.com/connect"

	"github.com/caas-dev/caas/sdks/go/gen/caas/auth/v1/authv1connect"
	"github.com/caas-dev/caas/sdks/go/gen/caas/chat/v1/chatv1connect"
	"github.com/caas-dev/caas/sdks/go/gen/caas/gateway/v1/gatewayv1connect"
	"github.com/caas-dev/caas/sdks/go/gen/caas/media/v1/mediav1connect"
	"github.com/caas-dev/caas/sdks/go/gen/caas/realtime/v1/realtimev1connect"
)

// Client reaches every public service through the gateway. The fields are the generated
// connect-go clients; their calls carry the client's token.
type Client struct {
	TenantAdmin authv1connect.TenantAdminServiceClient
	UserAdmin   authv1connect.UserAdminServiceClient
	Auth        authv1connect.AuthServiceClient
	Chat        chatv1connect.ChatServiceClient
	Media       mediav1connect.MediaServiceClient
	Realtime    realtimev1connect.RealtimeServiceClient
	Platform    gatewayv1connect.PlatformServiceClient
	tokens      TokenSource
}

// TokenSource yields the bearer credential for a call: an API key, the platform-admin credential
// or a user's access token. It is asked before every call, so it may refresh.
type TokenSource interface {
	Token(ctx context.Context) (string, error)
}

// StaticToken is a TokenSource that always returns the same credential.
type StaticToken string

// Token returns the credential itself.
func (t StaticToken) Token(context.Context) (string, error) { return string(t), nil }

type options struct {
	tokens     TokenSource
	httpClient connect.HTTPClient
	grpc       bool
}

// Option configures New.
type Option func(*options)

// WithToken attaches a fixed bearer credential to every call.
func WithToken(token string) Option { return func(o *options) { o.tokens = StaticToken(token) } }

// WithTokenSource attaches the source's current credential to every call (see SessionTokens).
func WithTokenSource(ts TokenSource) Option { return func(o *options) { o.tokens = ts } }

// WithHTTPClient replaces the default HTTP client (HTTP/2, cleartext for http:// URLs).
func WithHTTPClient(c connect.HTTPClient) Option { return func(o *options) { o.httpClient = c } }

// WithGRPC speaks the gRPC protocol instead of Connect (both are served on the gateway's port).
func WithGRPC() Option { return func(o *options) { o.grpc = true } }

// New returns a client for the gateway at baseURL (e.g. http://127.0.0.1:3000).
func New(baseURL string, opts ...Option) *Client {
	o := options{}
	for _, opt := range opts {
		opt(&o)
	}
	if o.httpClient == nil {
		o.httpClient = NewHTTPClient(strings.HasPrefix(baseURL, "http://"))
	}
	clientOpts := []connect.ClientOption{}
	if o.tokens != nil {
		clientOpts = append(clientOpts, connect.WithInterceptors(&bearer{tokens: o.tokens}))
	}
	if o.grpc {
		clientOpts = append(clientOpts, connect.WithGRPC())
	}
	baseURL = strings.TrimRight(baseURL, "/")
	return &Client{
		TenantAdmin: authv1connect.NewTenantAdminServiceClient(o.httpClient, baseURL, clientOpts...),
		UserAdmin:   authv1connect.NewUserAdminServiceClient(o.httpClient, baseURL, clientOpts...),
		Auth:        authv1connect.NewAuthServiceClient(o.httpClient, baseURL, clientOpts...),
		Chat:        chatv1connect.NewChatServiceClient(o.httpClient, baseURL, clientOpts...),
		Media:       mediav1connect.NewMediaServiceClient(o.httpClient, baseURL, clientOpts...),
		Realtime:    realtimev1connect.NewRealtimeServiceClient(o.httpClient, baseURL, clientOpts...),
		Platform:    gatewayv1connect.NewPlatformServiceClient(o.httpClient, baseURL, clientOpts...),
		tokens:      o.tokens,
	}
}

// NewHTTPClient returns an HTTP/2 client; with cleartext it speaks HTTP/2 without TLS (prior
// knowledge), which the gateway accepts on its one port and bidi streams need.
func NewHTTPClient(cleartext bool) *http.Client {
	t := &http.Transport{
		DialContext:       (&net.Dialer{}).DialContext,
		ForceAttemptHTTP2: true,
		TLSClientConfig:   &tls.Config{MinVersion: tls.VersionTLS12},
	}
	if cleartext {
		p := new(http.Protocols)
		p.SetUnencryptedHTTP2(true)
		t.Protocols = p
	}
	return &http.Client{Transport: t}
}

// bearer sets Authorization on every unary call and stream the client opens.
type bearer struct{ tokens TokenSource }

func (b *bearer) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if req.Header().Get("Authorization") == "" {
			token, err := b.tokens.Token(ctx)
			if err != nil {
				return nil, err
			}
			req.Header().Set("Authorization", "Bearer "+token)
		}
		return next(ctx, req)
	}
}

func (b *bearer) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return func(ctx context.Context, spec connect.Spec) connect.StreamingClientConn {
		conn := next(ctx, spec)
		if conn.RequestHeader().Get("Authorization") == "" {
			if token, err := b.tokens.Token(ctx); err == nil {
				conn.RequestHeader().Set("Authorization", "Bearer "+token)
			}
		}
		return conn
	}
}

func (b *bearer) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}
