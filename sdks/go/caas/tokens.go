package caas

import (
	"context"
	"errors"
	"sync"
	"time"

	"connectrpc.com/connect"

	authv1 "github.com/caas-dev/caas/sdks/go/gen/caas/auth/v1"
	"github.com/caas-dev/caas/sdks/go/gen/caas/auth/v1/authv1connect"
)

// RefreshMargin is how long before its expiry an access token is replaced.
const RefreshMargin = 30 * time.Second

// SessionTokens is a TokenSource for one signed-in session: it hands out the access token and,
// when that is about to expire, exchanges the refresh token for a new pair (AuthService.RefreshToken;
// refresh tokens rotate on every use, so the new one replaces the old). OnRefresh, when set, is
// told each new pair (to persist it). Safe for concurrent use: one refresh at a time.
type SessionTokens struct {
	auth      authv1connect.AuthServiceClient
	mu        sync.Mutex
	tokens    *authv1.SessionTokens
	now       func() time.Time
	OnRefresh func(*authv1.SessionTokens)
}

// NewSessionTokens starts from the pair a sign-in or IssueUserToken returned. gatewayURL is the
// gateway's base URL (RefreshToken needs no credential but the refresh token itself).
func NewSessionTokens(gatewayURL string, initial *authv1.SessionTokens) *SessionTokens {
	return &SessionTokens{auth: New(gatewayURL).Auth, tokens: initial, now: time.Now}
}

// Token returns a valid access token, refreshing first when it expires within RefreshMargin.
func (s *SessionTokens) Token(ctx context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tokens == nil {
		return "", errors.New("caas: no session tokens")
	}
	exp := s.tokens.GetAccessTokenExpireTime()
	if exp != nil && s.now().Add(RefreshMargin).Before(exp.AsTime()) {
		return s.tokens.GetAccessToken(), nil
	}
	if err := s.refreshLocked(ctx); err != nil {
		return "", err
	}
	return s.tokens.GetAccessToken(), nil
}

// Refresh replaces the pair now, whatever its expiry (e.g. after the server said UNAUTHENTICATED).
func (s *SessionTokens) Refresh(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refreshLocked(ctx)
}

// Current returns the pair in use.
func (s *SessionTokens) Current() *authv1.SessionTokens {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokens
}

func (s *SessionTokens) refreshLocked(ctx context.Context) error {
	res, err := s.auth.RefreshToken(ctx, connect.NewRequest(&authv1.RefreshTokenRequest{RefreshToken: s.tokens.GetRefreshToken()}))
	if err != nil {
		return err
	}
	s.tokens = res.Msg.GetTokens()
	if s.OnRefresh != nil {
		s.OnRefresh(s.tokens)
	}
	return nil
}
