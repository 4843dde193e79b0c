//go:build !nodev

package main

import (
	"bufio"
	"context"
	"io"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

func TestDevKafka(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := devCommand(ctx, []string{"kafka", "--port", "0", "--partitions", "3", "--topics", "a, b"}, pw, io.Discard)
		pw.Close()
		done <- err
	}()

	// The broker is up once its address is printed.
	lines := bufio.NewScanner(pr)
	var brokers string
	for brokers == "" && lines.Scan() {
		if f := strings.Fields(lines.Text()); len(f) >= 2 && f[0] == "brokers" {
			brokers = f[1]
		}
	}
	if brokers == "" {
		t.Fatalf("no brokers line printed (%v, %v)", lines.Err(), <-done)
	}
	go io.Copy(io.Discard, pr) // the rest of the output

	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(brokers, ",")...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	topics, err := kadm.NewClient(cl).ListTopics(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"a", "b"} {
		if td, ok := topics[name]; !ok || len(td.Partitions) != 3 {
			t.Errorf("topic %s: listed %v with %d partitions, want 3", name, ok, len(td.Partitions))
		}
	}

	cancel()
	if err := <-done; err != nil {
		t.Fatalf("dev kafka returned %v after cancel, want nil", err)
	}
}

func TestDevUnknown(t *testing.T) {
	if err := devCommand(t.Context(), []string{"redis"}, io.Discard, io.Discard); err == nil {
		t.Fatal("dev redis succeeded")
	}
	if err := devCommand(t.Context(), []string{"kafka", "--partitions", "0"}, io.Discard, io.Discard); err == nil {
		t.Fatal("dev kafka --partitions 0 succeeded")
	}
}
