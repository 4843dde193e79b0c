package schemas

import "time"

// Payment is one payment lifecycle event as published on the payments topic.
type Payment struct {
	EventID     string            `json:"event_id"`
	EventType   string            `json:"event_type"`
	OccurredAt  time.Time         `json:"occurred_at"`
	MerchantID  string            `json:"merchant_id"`
	CustomerID  string            `json:"customer_id,omitempty"`
	AmountMinor int64             `json:"amount_minor"`
	Currency    string            `json:"currency"`
	Method      string            `json:"method,omitempty"`
	Status      string            `json:"status,omitempty"`
	Country     string            `json:"country,omitempty"`
	City        string            `json:"city,omitempty"`
	RiskScore   float64           `json:"risk_score,omitempty"`
	Metadata    map[string]string `json:"metadata,omitempty"`
}

// Payment event types.
const (
	PaymentAuthorized = "payment.authorized"
	PaymentCaptured   = "payment.captured"
	PaymentFailed     = "payment.failed"
	PaymentRefunded   = "payment.refunded"
)

// Shipment is one logistics scan event as published on the shipments topic.
type Shipment struct {
	EventID     string    `json:"event_id"`
	EventType   string    `json:"event_type"`
	OccurredAt  time.Time `json:"occurred_at"`
	ShipmentID  string    `json:"shipment_id"`
	HubID       string    `json:"hub_id"`
	Carrier     string    `json:"carrier"`
	Route       string    `json:"route,omitempty"`
	WeightGrams int64     `json:"weight_grams,omitempty"`
	Lat         float64   `json:"lat,omitempty"`
	Lon         float64   `json:"lon,omitempty"`
	ETAMinutes  int64     `json:"eta_minutes,omitempty"`
}

// Shipment event types.
const (
	ShipmentCreated        = "shipment.created"
	ShipmentPickedUp       = "shipment.picked_up"
	ShipmentScanned        = "shipment.scanned"
	ShipmentOutForDelivery = "shipment.out_for_delivery"
	ShipmentDelivered      = "shipment.delivered"
	ShipmentException      = "shipment.exception"
)
