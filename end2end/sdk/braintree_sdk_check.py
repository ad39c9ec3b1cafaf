"""Braintree's official Python SDK (braintree 4.48.0), unchanged, against the shop's Braintree sandbox.

Usage: python braintree_sdk_check.py <sandboxes-url> [<shop-url>]
  e.g. http://127.0.0.1:4100 http://127.0.0.1:3000 (the `sandboxes` binary and a shop), or one
  shop URL that serves its own sandboxes
The SDK builds its gateway URL as protocol + server + ":" + port and adds /merchants/{id}/...,
and takes https only when the port is "443" (read in the SDK's source). So a plain
braintree.Environment whose port string carries the sandbox's path prefix
("3000/sandbox/braintree") reaches the shop's sandbox without changing the SDK.
Generates a client token, makes a sale (submit_for_settlement), finds it, searches it by
order_id, sees a processor decline and a validation error come back as the SDK's results, voids the
sale, and posts webhooks the SDK signs (webhook_testing, with the sandbox's keys) to the shop:
genuine ones acknowledged, a tampered one refused. Exit 0 on success.
"""
import base64
import json
import sys
import uuid
from urllib.parse import urlsplit

import braintree
from braintree.test.nonces import Nonces

base = sys.argv[1].rstrip("/")
# The shop the sandboxes send shoppers and webhooks to: the same server when the shop serves them.
shop = (sys.argv[2] if len(sys.argv) > 2 else base).rstrip("/")
parts = urlsplit(base)
host = parts.hostname
port = str(parts.port or (443 if parts.scheme == "https" else 80))
if parts.scheme == "https":
    sys.exit("the sandbox check runs over plain http")

environment = braintree.Environment(
    "storefront-sandbox",
    host,
    f"{port}/sandbox/braintree",
    f"{base}/sandbox/braintree",
    False,
    None,
)
gateway = braintree.BraintreeGateway(
    braintree.Configuration(
        environment=environment,
        merchant_id="storefrontsandbox",
        public_key="any-public-key",
        private_key="any-private-key",
    )
)

token = gateway.client_token.generate()
blob = json.loads(base64.b64decode(token))
assert blob["version"] == 2 and blob["merchantId"] == "storefrontsandbox", blob

order_id = f"SDK-{uuid.uuid4().hex[:10]}"
result = gateway.transaction.sale(
    {
        "amount": "10.00",
        "payment_method_nonce": Nonces.Transactable,
        "order_id": order_id,
        "options": {"submit_for_settlement": True},
    }
)
assert result.is_success, result
sale = result.transaction
assert sale.status == braintree.Transaction.Status.SubmittedForSettlement, sale.status
assert str(sale.amount) == "10.00" and sale.currency_iso_code == "USD", (sale.amount, sale.currency_iso_code)
assert sale.order_id == order_id

found = gateway.transaction.find(sale.id)
assert found.id == sale.id and found.order_id == order_id

matches = list(gateway.transaction.search(braintree.TransactionSearch.order_id == order_id).items)
assert [t.id for t in matches] == [sale.id], [t.id for t in matches]

declined = gateway.transaction.sale(
    {
        "amount": "2000.00",
        "payment_method_nonce": Nonces.Transactable,
        "order_id": f"{order_id}-D",
        "options": {"submit_for_settlement": True},
    }
)
assert not declined.is_success
assert declined.transaction.status == braintree.Transaction.Status.ProcessorDeclined, declined.transaction.status
assert declined.transaction.processor_response_code == "2000"

invalid = gateway.transaction.sale(
    {"amount": "1.00", "payment_method_nonce": "not-a-nonce", "options": {"submit_for_settlement": True}}
)
assert not invalid.is_success and invalid.transaction is None
codes = [e.code for e in invalid.errors.deep_errors]
assert "91565" in codes, codes

voided = gateway.transaction.void(sale.id)
assert voided.is_success and voided.transaction.status == braintree.Transaction.Status.Voided

# Webhooks the SDK signs with the built-in sandbox's keys reach the shop's /webhooks/braintree:
# genuine ones are acknowledged (2xx), a tampered one is refused (4xx).
import requests  # noqa: E402  (the SDK's own HTTP dependency)

signer = braintree.BraintreeGateway(
    braintree.Configuration(
        environment=environment,
        merchant_id="storefrontsandbox",
        public_key="storefront-sandbox-public",
        private_key="storefront-sandbox-private",
    )
)
for kind in (braintree.WebhookNotification.Kind.Check, braintree.WebhookNotification.Kind.TransactionSettled):
    sample = signer.webhook_testing.sample_notification(kind, sale.id)
    parsed = signer.webhook_notification.parse(sample["bt_signature"], sample["bt_payload"])
    assert parsed.kind == kind
    answer = requests.post(f"{shop}/webhooks/braintree", data=sample, timeout=10)
    assert 200 <= answer.status_code < 300, (kind, answer.status_code, answer.text)
sample = signer.webhook_testing.sample_notification(braintree.WebhookNotification.Kind.Check, sale.id)
payload = sample["bt_payload"]
payload = payload.decode() if isinstance(payload, bytes) else payload
tampered = {"bt_signature": sample["bt_signature"], "bt_payload": payload.replace("A", "B", 1)}
answer = requests.post(f"{shop}/webhooks/braintree", data=tampered, timeout=10)
assert 400 <= answer.status_code < 500, answer.status_code

print("braintree SDK check: client token, sale, find, search, decline, validation error, void, webhooks: ok")
