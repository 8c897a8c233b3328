package validate

import (
	"context"
	"testing"
)

func TestEnvoyUpstreamsAreComposeServices(t *testing.T) {
	b, err := ParseEnvoy(envoyConfigPath(t))
	if err != nil {
		t.Fatal(err)
	}
	file, root := composeFilePath(t)
	project, err := LoadCompose(context.Background(), file, root)
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckEnvoyAgainstCompose(b, project); err != nil {
		t.Fatal(err)
	}
}

// The cross-file check must catch an Envoy endpoint that compose does not run.
func TestEnvoyAgainstComposeRejectsUnknownUpstream(t *testing.T) {
	b, err := ParseEnvoy(envoyConfigPath(t))
	if err != nil {
		t.Fatal(err)
	}
	file, root := composeFilePath(t)
	project, err := LoadCompose(context.Background(), file, root)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range b.GetStaticResources().GetClusters() {
		if c.GetName() == "socket" {
			sa := c.GetLoadAssignment().GetEndpoints()[0].GetLbEndpoints()[1].GetEndpoint().GetAddress().GetSocketAddress()
			sa.Address = "socket-3"
		}
	}
	err = CheckEnvoyAgainstCompose(b, project)
	if err == nil {
		t.Fatal("an upstream that is not a compose service was accepted")
	}
	t.Logf("rejected as expected: %v", err)
}
