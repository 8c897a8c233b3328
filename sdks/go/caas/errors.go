package caas

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"connectrpc.com/connect"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
)

// FieldViolation is one field of a request that failed validation: from buf.validate.Violations
// (the request's declared constraints, checked before the handler runs) or google.rpc.BadRequest
// (checks of the service itself). Field is a path like "conversation_id" or "members[2].user_id".
type FieldViolation struct {
	Field       string
	Description string
}

// Error is a server error as the SDK surfaces it: the gRPC code and message, the field
// violations of an INVALID_ARGUMENT, and the retry delay of a RESOURCE_EXHAUSTED.
type Error struct {
	Code            connect.Code
	Message         string
	FieldViolations []FieldViolation
	// RetryAfter is the delay the server asks for before retrying (google.rpc.RetryInfo); 0 if none.
	RetryAfter time.Duration
	cause      *connect.Error
}

func (e *Error) Error() string { return e.cause.Error() }

// Unwrap returns the underlying *connect.Error.
func (e *Error) Unwrap() error { return e.cause }

// AsError returns the server error in err as an *Error with its details decoded, or nil when
// err carries no server error (a local failure, nil).
func AsError(err error) *Error {
	var ce *connect.Error
	if !errors.As(err, &ce) {
		return nil
	}
	out := &Error{Code: ce.Code(), Message: ce.Message(), cause: ce}
	for _, d := range ce.Details() {
		v, derr := d.Value()
		if derr != nil {
			continue
		}
		switch detail := v.(type) {
		case *validate.Violations:
			for _, fv := range detail.GetViolations() {
				out.FieldViolations = append(out.FieldViolations, FieldViolation{Field: fieldPath(fv.GetField()), Description: fv.GetMessage()})
			}
		case *errdetails.BadRequest:
			for _, fv := range detail.GetFieldViolations() {
				out.FieldViolations = append(out.FieldViolations, FieldViolation{Field: fv.GetField(), Description: fv.GetDescription()})
			}
		case *errdetails.RetryInfo:
			out.RetryAfter = detail.GetRetryDelay().AsDuration()
		}
	}
	return out
}

// fieldPath renders a protovalidate field path as "a.b[1].c" (map keys as ["key"]).
func fieldPath(p *validate.FieldPath) string {
	var b strings.Builder
	for i, el := range p.GetElements() {
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(el.GetFieldName())
		switch sub := el.GetSubscript().(type) {
		case *validate.FieldPathElement_Index:
			fmt.Fprintf(&b, "[%d]", sub.Index)
		case *validate.FieldPathElement_StringKey:
			fmt.Fprintf(&b, "[%q]", sub.StringKey)
		case *validate.FieldPathElement_IntKey:
			fmt.Fprintf(&b, "[%d]", sub.IntKey)
		case *validate.FieldPathElement_UintKey:
			fmt.Fprintf(&b, "[%d]", sub.UintKey)
		case *validate.FieldPathElement_BoolKey:
			fmt.Fprintf(&b, "[%t]", sub.BoolKey)
		}
	}
	return b.String()
}
