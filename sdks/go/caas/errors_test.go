package caas_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/caas-dev/caas/sdks/go/caas"
)

func TestAsErrorDecodesBadRequestAndRetryInfo(t *testing.T) {
	ce := connect.NewError(connect.CodeResourceExhausted, errors.New("slow down"))
	retry, err := connect.NewErrorDetail(&errdetails.RetryInfo{RetryDelay: durationpb.New(1500 * time.Millisecond)})
	if err != nil {
		t.Fatal(err)
	}
	bad, err := connect.NewErrorDetail(&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: "text", Description: "too long"}}})
	if err != nil {
		t.Fatal(err)
	}
	ce.AddDetail(retry)
	ce.AddDetail(bad)
	e := caas.AsError(fmt.Errorf("wrapped: %w", ce))
	if e == nil || e.Code != connect.CodeResourceExhausted || e.Message != "slow down" {
		t.Fatalf("AsError: %+v", e)
	}
	if e.RetryAfter != 1500*time.Millisecond {
		t.Fatalf("RetryAfter %v", e.RetryAfter)
	}
	if len(e.FieldViolations) != 1 || e.FieldViolations[0] != (caas.FieldViolation{Field: "text", Description: "too long"}) {
		t.Fatalf("FieldViolations %+v", e.FieldViolations)
	}
	if !errors.Is(e, ce) {
		t.Fatal("the *Error does not unwrap to the connect error")
	}
	if caas.AsError(errors.New("local")) != nil {
		t.Fatal("a local error is not a server error")
	}
}
