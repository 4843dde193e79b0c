package producers_test

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/producers"
	"github.com/sluicehq/sluice/schemas"
)

func ExamplePublisher_PublishPayment() {
	cluster, _ := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "payments", "shipments"))
	defer cluster.Close()
	ctx := context.Background()

	pub, err := producers.NewPublisher(producers.Brokers(cluster.ListenAddrs()...), producers.Linger(5*time.Millisecond))
	if err != nil {
		panic(err)
	}
	defer pub.Close()

	p := &schemas.Payment{
		EventID:     producers.EventID("ord_42", schemas.PaymentCaptured), // a retry reuses the id
		EventType:   schemas.PaymentCaptured,
		OccurredAt:  time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC),
		MerchantID:  "m_00042",
		AmountMinor: 49900,
		Currency:    "INR",
		Method:      "upi",
	}
	fmt.Println("publish:", pub.PublishPayment(ctx, p))

	p.Currency = "rupees"
	fmt.Println("publish:", pub.PublishPayment(ctx, p))
	// Output:
	// publish: <nil>
	// publish: producers: refusing to publish event "f6856f08a4a112ef690250de46bb223c" to payments: invalid event: bad_format (currency): must be 3 uppercase ASCII letters, got "rupees"
}

func ExampleDeadLetters_Send() {
	cluster, _ := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "payments", "sluice.dlq"))
	defer cluster.Close()
	ctx := context.Background()
	cl, _ := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...),
		kgo.ConsumeTopics("sluice.dlq"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	defer cl.Close()

	// A record a consumer could not decode.
	src := &kgo.Record{Topic: "payments", Partition: 0, Offset: 7, Key: []byte("m_1"), Value: []byte("{oops")}

	dlq := producers.NewDeadLetters(cl, "", producers.ConsumerGroup("sluice"))
	done := make(chan error, 1)
	dlq.Send(ctx, src, schemas.ReasonMalformed, "invalid character 'o'", func(err error) { done <- err })
	fmt.Println("sent:", <-done)

	r := cl.PollFetches(ctx).Records()[0]
	d, _ := producers.ParseDeadLetter(r)
	fmt.Printf("%s/%d@%d %s (%s) group=%s value=%s\n", d.SourceTopic, d.SourcePartition, d.SourceOffset, d.Reason, d.Detail, d.Group, d.Value)
	// Output:
	// sent: <nil>
	// payments/0@7 malformed_json (invalid character 'o') group=sluice value={oops
}

func ExampleEventID() {
	fmt.Println(producers.EventID("ord_42", "payment.captured"))
	fmt.Println(producers.EventID("ord_42", "payment.captured") == producers.EventID("ord_42", "payment.captured"))
	// Output:
	// f6856f08a4a112ef690250de46bb223c
	// true
}
