package caas

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"connectrpc.com/connect"

	realtimev1 "github.com/caas-dev/caas/sdks/go/gen/caas/realtime/v1"
)

// Session is one realtime connection (RealtimeService.Connect, a gRPC/Connect bidi stream over
// HTTP/2): authenticated, optionally resumed from a cursor, with the latest cursor the server
// gave (ResumeDone, Checkpoint) kept so that a new session can resume where this one stopped.
type Session struct {
	stream *connect.BidiStreamForClient[realtimev1.ConnectRequest, realtimev1.ConnectResponse]
	AuthOk *realtimev1.AuthOk
	mu     sync.Mutex
	nextID uint64
	cursor string
}

// SessionOptions says where a session starts.
type SessionOptions struct {
	// Resume asks the server to replay what changed since Cursor (changes frames, then
	// ResumeDone with the cursor to resume from next time) before live events.
	Resume bool
	// Cursor from an earlier session's Cursor(); empty with Resume replays from scratch.
	Cursor string
}

// Connect opens a realtime session authenticated by the client's token (sent as the stream's
// Authorization header; the server answers AuthOk first), then sends Resume when opts.Resume is
// set. Cancel ctx to end the session.
func (c *Client) Connect(ctx context.Context, opts SessionOptions) (*Session, error) {
	if c.tokens == nil {
		return nil, errors.New("caas: Connect needs a client with a token (WithToken or WithTokenSource)")
	}
	// Asked here so that a failing source is reported; the interceptor asks it again (cheap).
	if _, err := c.tokens.Token(ctx); err != nil {
		return nil, err
	}
	s := &Session{stream: c.Realtime.Connect(ctx), cursor: opts.Cursor}
	// Sends the request headers (with the token) without a frame.
	if err := s.stream.Send(nil); err != nil {
		return nil, err
	}
	first, err := s.Receive()
	if err != nil {
		return nil, err
	}
	if s.AuthOk = first.GetAuthOk(); s.AuthOk == nil {
		return nil, frameError("auth", first)
	}
	if opts.Resume {
		if err := s.Send(&realtimev1.ClientFrame{Frame: &realtimev1.ClientFrame_Resume{Resume: &realtimev1.Resume{Cursor: opts.Cursor}}}); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Send writes a frame, numbering it (its id) when it has none; replies carry that id in reply_to.
func (s *Session) Send(f *realtimev1.ClientFrame) error {
	s.mu.Lock()
	if f.Id == 0 {
		s.nextID++
		f.Id = s.nextID
	}
	s.mu.Unlock()
	return s.stream.Send(&realtimev1.ConnectRequest{Frame: f})
}

// Receive returns the next frame from the server, remembering any cursor it carries.
func (s *Session) Receive() (*realtimev1.ServerFrame, error) {
	res, err := s.stream.Receive()
	if err != nil {
		return nil, err
	}
	f := res.GetFrame()
	s.mu.Lock()
	if rd := f.GetResumeDone(); rd != nil && rd.GetCursor() != "" {
		s.cursor = rd.GetCursor()
	} else if cp := f.GetCheckpoint(); cp != nil && cp.GetCursor() != "" {
		s.cursor = cp.GetCursor()
	}
	s.mu.Unlock()
	return f, nil
}

// Call sends a frame and returns its reply, skipping (and so losing) frames that arrive in
// between: use it before live traffic starts, or use Send and Receive.
func (s *Session) Call(f *realtimev1.ClientFrame) (*realtimev1.ServerFrame, error) {
	if err := s.Send(f); err != nil {
		return nil, err
	}
	for {
		reply, err := s.Receive()
		if err != nil {
			return nil, err
		}
		if reply.GetReplyTo() == f.GetId() {
			return reply, nil
		}
	}
}

// Cursor is the latest resume cursor the server gave (or the one the session started from).
func (s *Session) Cursor() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cursor
}

// Close ends the session (half-closes the stream and stops reading).
func (s *Session) Close() error {
	_ = s.stream.CloseRequest()
	return s.stream.CloseResponse()
}

// frameError turns an unexpected reply (an error frame, usually) into an error.
func frameError(what string, f *realtimev1.ServerFrame) error {
	if fe := f.GetError(); fe != nil {
		return fmt.Errorf("caas: %s refused: %s (code %d)", what, fe.GetMessage(), fe.GetCode())
	}
	return fmt.Errorf("caas: %s: unexpected reply %T", what, f.GetFrame())
}
