package caas_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/caas-dev/caas/sdks/go/caas"
	authv1 "github.com/caas-dev/caas/sdks/go/gen/caas/auth/v1"
	chatv1 "github.com/caas-dev/caas/sdks/go/gen/caas/chat/v1"
	realtimev1 "github.com/caas-dev/caas/sdks/go/gen/caas/realtime/v1"
)

// platform returns a gateway URL and the platform-admin credential: those of a running platform
// (CAAS_TEST_GATEWAY_URL, CAAS_TEST_ADMIN_CREDENTIAL) or of an embedded platform this test starts
// (node services/platform/dist/main.js, free ports, a temporary data directory).
func platform(t *testing.T) (string, string) {
	if url := os.Getenv("CAAS_TEST_GATEWAY_URL"); url != "" {
		return url, os.Getenv("CAAS_TEST_ADMIN_CREDENTIAL")
	}
	root, err := filepath.Abs("../../..")
	if err != nil {
		t.Fatal(err)
	}
	main := filepath.Join(root, "services/platform/dist/main.js")
	if _, err := os.Stat(main); err != nil {
		t.Fatalf("%s is missing: run npm run build first", main)
	}
	data := t.TempDir()
	cmd := exec.Command("node", main)
	cmd.Dir = root
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "CAAS_MODE=embedded", "CAAS_DATA_DIR=" + data, "CAAS_LOG_LEVEL=info", "CAAS_INSTANCE_ID=go-sdk-smoke"}
	for _, s := range []string{"GATEWAY", "AUTH", "CHAT", "SOCKET", "MEDIA", "SEARCH", "COMPLIANCE", "CRYPTO"} {
		cmd.Env = append(cmd.Env, "CAAS_"+s+"_PORT=0")
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
		}
	})
	ready := make(chan string, 1)
	go func() {
		scan := bufio.NewScanner(stdout)
		scan.Buffer(make([]byte, 1<<20), 1<<20)
		sent := false
		for scan.Scan() {
			var line struct {
				Msg       string            `json:"msg"`
				Endpoints map[string]string `json:"endpoints"`
			}
			if !sent && json.Unmarshal(scan.Bytes(), &line) == nil && line.Msg == "platform ready" {
				ready <- line.Endpoints["gateway"]
				sent = true
			}
		}
	}()
	select {
	case url := <-ready:
		cred, err := os.ReadFile(filepath.Join(data, "admin-credential"))
		if err != nil {
			t.Fatal(err)
		}
		return url, strings.TrimSpace(string(cred))
	case <-time.After(90 * time.Second):
		t.Fatal("the embedded platform did not report ready within 90 s")
	}
	return "", ""
}

// TestTwoUsersExchangeALiveMessage runs what an app does: a tenant backend creates users and
// tokens, one user sends, the other receives it live on a realtime session, retries are
// idempotent, bad input comes back as a typed error, tokens refresh, and a session resumes.
func TestTwoUsersExchangeALiveMessage(t *testing.T) {
	gateway, adminCredential := platform(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	admin := caas.New(gateway, caas.WithToken(adminCredential))
	tenant, err := admin.TenantAdmin.CreateTenant(ctx, connect.NewRequest(&authv1.CreateTenantRequest{Name: fmt.Sprintf("go-sdk-%d", time.Now().UnixNano())}))
	if err != nil {
		t.Fatalf("CreateTenant: %v", err)
	}
	key, err := admin.TenantAdmin.CreateApiKey(ctx, connect.NewRequest(&authv1.CreateApiKeyRequest{TenantId: tenant.Msg.GetTenant().GetId(), Name: "backend"}))
	if err != nil {
		t.Fatalf("CreateApiKey: %v", err)
	}
	backend := caas.New(gateway, caas.WithToken(key.Msg.GetSecret()))
	tokens := map[string]*caas.SessionTokens{}
	for _, user := range []string{"alice", "bob"} {
		if _, err := backend.UserAdmin.UpsertUser(ctx, connect.NewRequest(&authv1.UpsertUserRequest{UserId: user, DisplayName: user})); err != nil {
			t.Fatalf("UpsertUser %s: %v", user, err)
		}
		issued, err := backend.UserAdmin.IssueUserToken(ctx, connect.NewRequest(&authv1.IssueUserTokenRequest{UserId: user, DeviceId: "go"}))
		if err != nil {
			t.Fatalf("IssueUserToken %s: %v", user, err)
		}
		tokens[user] = caas.NewSessionTokens(gateway, issued.Msg.GetTokens())
	}
	alice := caas.New(gateway, caas.WithTokenSource(tokens["alice"]))
	bob := caas.New(gateway, caas.WithTokenSource(tokens["bob"]), caas.WithGRPC())

	conv, err := alice.Chat.CreateConversation(ctx, connect.NewRequest(&chatv1.CreateConversationRequest{Type: chatv1.ConversationType_CONVERSATION_TYPE_DIRECT, MemberIds: []string{"bob"}}))
	if err != nil {
		t.Fatalf("CreateConversation: %v", err)
	}
	dm := conv.Msg.GetConversation().GetId()

	// bob listens, resuming from scratch: he gets a cursor to come back with.
	session, err := bob.Connect(ctx, caas.SessionOptions{Resume: true})
	if err != nil {
		t.Fatalf("bob Connect: %v", err)
	}
	if got := session.AuthOk.GetUserId(); got != "bob" {
		t.Fatalf("AuthOk user %q, want bob", got)
	}
	waitFor(t, session, func(f *realtimev1.ServerFrame) bool { return f.GetResumeDone() != nil })

	send := func(id, text string) *chatv1.SendMessageResponse {
		t.Helper()
		res, err := alice.Chat.SendMessage(ctx, connect.NewRequest(&chatv1.SendMessageRequest{ConversationId: dm, ClientMessageId: id, Text: text}))
		if err != nil {
			t.Fatalf("SendMessage %s: %v", id, err)
		}
		return res.Msg
	}
	ack := send("go-1", "hello from Go")
	live := waitFor(t, session, isMessage(dm, "hello from Go"))
	if live.GetEvent().GetSeq() != ack.GetSeq() {
		t.Fatalf("live event seq %d, ack seq %d", live.GetEvent().GetSeq(), ack.GetSeq())
	}

	// A retry with the same client_message_id is the original ack.
	again := send("go-1", "hello from Go")
	if !again.GetDuplicate() || again.GetMessageId() != ack.GetMessageId() || again.GetSeq() != ack.GetSeq() {
		t.Fatalf("retry: %+v, want the original ack %+v marked duplicate", again, ack)
	}

	// Bad input: a typed error with the field at fault.
	_, err = alice.Chat.SendMessage(ctx, connect.NewRequest(&chatv1.SendMessageRequest{ConversationId: "not-a-uuid", ClientMessageId: "go-2", Text: "x"}))
	e := caas.AsError(err)
	if e == nil || e.Code != connect.CodeInvalidArgument || len(e.FieldViolations) == 0 || e.FieldViolations[0].Field != "conversation_id" {
		t.Fatalf("bad conversation id: got %v (%+v), want INVALID_ARGUMENT on conversation_id", err, e)
	}

	// Token refresh: a new access token (the refresh token rotates), and calls go on.
	before := tokens["alice"].Current().GetAccessToken()
	if err := tokens["alice"].Refresh(ctx); err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	if tokens["alice"].Current().GetAccessToken() == before {
		t.Fatal("Refresh kept the same access token")
	}

	// The grpc-go stubs reach the same gateway (gRPC over h2c, the token as per-call metadata).
	conn, err := grpc.NewClient(strings.TrimPrefix(gateway, "http://"), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatalf("grpc.NewClient: %v", err)
	}
	defer conn.Close()
	bobToken, err := tokens["bob"].Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	listed, err := chatv1.NewChatServiceClient(conn).ListConversations(metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+bobToken), &chatv1.ListConversationsRequest{})
	if err != nil {
		t.Fatalf("grpc-go ListConversations: %v", err)
	}
	if len(listed.GetConversations()) != 1 || listed.GetConversations()[0].GetConversation().GetId() != dm {
		t.Fatalf("grpc-go ListConversations: %v, want only %s", listed.GetConversations(), dm)
	}

	// bob goes away; alice sends; bob resumes from his cursor and gets what he missed.
	cursor := session.Cursor()
	if cursor == "" {
		t.Fatal("no resume cursor after ResumeDone")
	}
	_ = session.Close()
	missed := send("go-3", "while you were away")
	back, err := bob.Connect(ctx, caas.SessionOptions{Resume: true, Cursor: cursor})
	if err != nil {
		t.Fatalf("bob reconnect: %v", err)
	}
	defer back.Close()
	got := waitFor(t, back, func(f *realtimev1.ServerFrame) bool {
		for _, ev := range f.GetChanges().GetEvents() {
			if ev.GetSeq() == missed.GetSeq() && ev.GetConversationId() == dm {
				return true
			}
		}
		return false
	})
	if got == nil {
		t.Fatal("resume did not replay the missed message")
	}
}

// waitFor reads frames until one matches (failing the test on a stream error).
func waitFor(t *testing.T, s *caas.Session, match func(*realtimev1.ServerFrame) bool) *realtimev1.ServerFrame {
	t.Helper()
	for {
		f, err := s.Receive()
		if err != nil {
			t.Fatalf("realtime stream ended while waiting: %v", err)
		}
		if match(f) {
			return f
		}
	}
}

func isMessage(conversationID, text string) func(*realtimev1.ServerFrame) bool {
	return func(f *realtimev1.ServerFrame) bool {
		ev := f.GetEvent()
		return ev != nil && ev.GetConversationId() == conversationID && ev.GetMessageCreated().GetMessage().GetText() == text
	}
}
