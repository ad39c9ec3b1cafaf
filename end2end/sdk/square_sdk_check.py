"""Square's official Python SDK (squareup 46.0.0.20260916, module `square`), unchanged, against the
shop's Square sandbox.

Usage: python square_sdk_check.py <sandboxes-url> [<shop-url>]
  e.g. http://127.0.0.1:4100 http://127.0.0.1:3000 (the `sandboxes` binary and a shop), or one
  shop URL that serves its own sandboxes
The SDK's `base_url` is pointed at `<base>/sandbox/square` (its documented host override). Lists the
locations, creates a payment link from an order (idempotency_key, reference_id, redirect URL on
the shop), replays it, reads it back unchanged, reads its order, and checks a refusal reaches the
SDK as Square's error. Exit 0 on success.
"""
import sys
import uuid

from square import Square
from square.core.api_error import ApiError

base = sys.argv[1].rstrip("/")
# The shop the sandboxes send shoppers and webhooks to: the same server when the shop serves them.
shop = (sys.argv[2] if len(sys.argv) > 2 else base).rstrip("/")
client = Square(token="EAAA-any-sandbox-token", base_url=f"{base}/sandbox/square")


def check(condition, message):
    if not condition:
        print(f"FAIL: {message}")
        sys.exit(1)


locations = client.locations.list()
check(locations.locations, "the sandbox has a location")
location = locations.locations[0].id

key = str(uuid.uuid4())
request = dict(
    idempotency_key=key,
    order={
        "location_id": location,
        "reference_id": "SDK-CHECK-A1",
        "line_items": [
            {"name": "Ceramic Mug", "quantity": "2", "base_price_money": {"amount": 1250, "currency": "USD"}}
        ],
    },
    checkout_options={"redirect_url": f"{shop}/payments/square/return/SDK-CHECK", "allow_tipping": False},
    payment_note="SDK check",
)
created = client.checkout.payment_links.create(**request)
link = created.payment_link
check(link is not None and link.id and link.order_id, f"a payment link: {created}")
check(link.url and "/sandbox/square/checkout/" in link.url, f"the link's url points at the sandbox: {link.url}")
check(created.related_resources.orders[0].state == "DRAFT", "the order is a DRAFT")

replayed = client.checkout.payment_links.create(**request)
check(replayed.payment_link.id == link.id, "the same idempotency_key gives the same link")

read = client.checkout.payment_links.get(link.id).payment_link
check(read.model_dump() == link.model_dump(), f"read back unchanged:\n{read}\n{link}")

order = client.orders.get(link.order_id).order
check(order.reference_id == "SDK-CHECK-A1", "the order names the reference")
check(order.total_money.amount == 2500 and order.total_money.currency == "USD", f"total: {order.total_money}")

try:
    client.checkout.payment_links.create(
        idempotency_key=str(uuid.uuid4()),
        quick_pay={"name": "x", "location_id": location, "price_money": {"amount": 100, "currency": "BDT"}},
    )
    check(False, "BDT is refused")
except ApiError as e:
    check(e.status_code == 400, f"a 400: {e.status_code}")
    check("UNSUPPORTED_CURRENCY" in str(e.body), f"Square's error code: {e.body}")

print(f"square SDK check: OK (link {link.id}, order {link.order_id})")
