"""PayPal's official Python SDK (paypal-server-sdk 2.4.0), unchanged, against the shop's PayPal sandbox.

Usage: python paypal_sdk_check.py <sandboxes-url> [<shop-url>]
  e.g. http://127.0.0.1:4100 http://127.0.0.1:3000 (the `sandboxes` binary and a shop), or one
  shop URL that serves its own sandboxes
The SDK has no host option, so its sandbox environment's base URI is pointed at the shop's
sandbox (docs/sandboxes.md#paypal-sandboxpaypal). Gets an OAuth2 token, creates an order (PayPal-Request-Id, JPY
without decimals), replays it, gets it, and checks a refusal reaches the SDK as PayPal's error.
Exit 0 on success.
"""
import sys
import uuid

from paypalserversdk.configuration import Environment, Server, Configuration

base = sys.argv[1].rstrip("/")
# The shop the sandboxes send shoppers and webhooks to: the same server when the shop serves them.
shop = (sys.argv[2] if len(sys.argv) > 2 else base).rstrip("/")
Configuration.environments[Environment.SANDBOX][Server.DEFAULT] = f"{base}/sandbox/paypal"

from paypalserversdk.exceptions.error_exception import ErrorException  # noqa: E402
from paypalserversdk.http.auth.o_auth_2 import ClientCredentialsAuthCredentials  # noqa: E402
from paypalserversdk.models.amount_breakdown import AmountBreakdown  # noqa: E402
from paypalserversdk.models.amount_with_breakdown import AmountWithBreakdown  # noqa: E402
from paypalserversdk.models.checkout_payment_intent import CheckoutPaymentIntent  # noqa: E402
from paypalserversdk.models.item_request import ItemRequest  # noqa: E402
from paypalserversdk.models.money import Money  # noqa: E402
from paypalserversdk.models.order_request import OrderRequest  # noqa: E402
from paypalserversdk.models.payment_source import PaymentSource  # noqa: E402
from paypalserversdk.models.paypal_wallet import PaypalWallet  # noqa: E402
from paypalserversdk.models.paypal_wallet_experience_context import (  # noqa: E402
    PaypalWalletExperienceContext,
)
from paypalserversdk.models.purchase_unit_request import PurchaseUnitRequest  # noqa: E402
from paypalserversdk.paypal_serversdk_client import PaypalServersdkClient  # noqa: E402

client = PaypalServersdkClient(
    client_credentials_auth_credentials=ClientCredentialsAuthCredentials(
        o_auth_client_id="any-client-id", o_auth_client_secret="any-secret"
    ),
    environment=Environment.SANDBOX,
)


def order_request(invoice_id, value="3000", item_value="1500", currency="JPY"):
    return OrderRequest(
        intent=CheckoutPaymentIntent.CAPTURE,
        purchase_units=[
            PurchaseUnitRequest(
                reference_id="default",
                invoice_id=invoice_id,
                amount=AmountWithBreakdown(
                    currency_code=currency,
                    value=value,
                    breakdown=AmountBreakdown(item_total=Money(currency_code=currency, value=value)),
                ),
                items=[
                    ItemRequest(
                        name="Ceramic Mug",
                        quantity="2",
                        unit_amount=Money(currency_code=currency, value=item_value),
                    )
                ],
            )
        ],
        payment_source=PaymentSource(
            paypal=PaypalWallet(
                experience_context=PaypalWalletExperienceContext(
                    # The sandbox only sends buyers back to the shop's own origin.
                    return_url=shop + "/payments/paypal/return/SDK-CHECK",
                    cancel_url=shop + "/payments/paypal/cancel/SDK-CHECK",
                    user_action="PAY_NOW",
                    shipping_preference="NO_SHIPPING",
                )
            )
        ),
    )


request_id = f"sdk-check-{uuid.uuid4()}"
invoice = f"SDK-CHECK-{uuid.uuid4().hex[:8]}-A1"
created = client.orders.create_order(
    {"body": order_request(invoice), "paypal_request_id": request_id, "prefer": "return=representation"}
)
assert created.status_code == 201, created.status_code
order = created.body
assert order.id and len(order.id) == 17, order.id
assert order.status == "PAYER_ACTION_REQUIRED", order.status
rels = {link.rel: link.href for link in order.links}
assert "/sandbox/paypal/checkoutnow?token=" + order.id in rels["payer-action"], rels
unit = order.purchase_units[0]
assert unit.invoice_id == invoice, unit.invoice_id
assert unit.amount.currency_code == "JPY" and unit.amount.value == "3000", unit.amount

again = client.orders.create_order(
    {"body": order_request(invoice), "paypal_request_id": request_id}
)
assert again.body.id == order.id, "same PayPal-Request-Id, same order"

fetched = client.orders.get_order({"id": order.id})
assert fetched.status_code == 200, fetched.status_code
assert fetched.body.id == order.id and fetched.body.purchase_units[0].invoice_id == invoice

try:
    client.orders.create_order({"body": order_request(invoice + "-B", value="10.50", item_value="5.25"), "paypal_request_id": str(uuid.uuid4())})
    raise AssertionError("JPY with decimals must be refused")
except ErrorException as e:
    assert e.response_code == 422, e.response_code
    assert e.name == "UNPROCESSABLE_ENTITY", e.name
    assert e.details[0].issue == "DECIMAL_PRECISION", e.details[0].issue

try:
    client.orders.get_order({"id": "NOSUCHORDER000000"})
    raise AssertionError("an unknown order must be 404")
except ErrorException as e:
    assert e.response_code == 404 and e.name == "RESOURCE_NOT_FOUND", (e.response_code, e.name)

print(f"paypal-server-sdk against {base}/sandbox/paypal: ok (order {order.id})")
