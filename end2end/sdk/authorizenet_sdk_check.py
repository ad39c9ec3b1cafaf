"""Authorize.Net's official Python SDK (authorizenet 1.1.6), unchanged, against the shop's
Authorize.Net sandbox.

Usage: python authorizenet_sdk_check.py <sandboxes-url> [<shop-url>]
  e.g. http://127.0.0.1:4100 http://127.0.0.1:3000 (the `sandboxes` binary and a shop), or one
  shop URL that serves its own sandboxes
The SDK speaks XML and drops the first three characters of every answer (the byte-order mark).
Gets a hosted payment page token (getHostedPaymentPageRequest), pays it on the sandbox's hosted
form (left unsettled), finds the transaction in getUnsettledTransactionListRequest and reads it
with getTransactionDetailsRequest; each answer must also parse with the SDK's own schema bindings
(pyxb), not only through its lxml fallback. Exit 0 on success.
"""
import sys
import uuid

import requests
from authorizenet import apicontractsv1
from authorizenet.apicontrollers import (
    getHostedPaymentPageController,
    getTransactionDetailsController,
    getUnsettledTransactionListController,
)

base = sys.argv[1].rstrip("/")
# The shop the sandboxes send shoppers and webhooks to: the same server when the shop serves them.
shop = (sys.argv[2] if len(sys.argv) > 2 else base).rstrip("/")
endpoint = f"{base}/sandbox/authorizenet/xml/v1/request.api"

auth = apicontractsv1.merchantAuthenticationType()
auth.name = "sdkCheckLogin"
auth.transactionKey = "sdkCheckTxnKey01"

invoice = "SDK-" + uuid.uuid4().hex[:12].upper()  # 16 characters, under the 20-character limit


def run(controller, schema_valid=True):
    # The environment is global to all controllers, and each controller's constructor resets it
    # to constants.SANDBOX (apitest.authorize.net): set it after constructing, before execute.
    controller.setenvironment(endpoint)
    controller.execute()
    response = controller.getresponse()
    assert response is not None, "no answer"
    # pyxb's schema-validated parse: None when the SDK had to fall back to lxml.
    if schema_valid:
        assert controller._response is not None, "the answer does not validate against the SDK's schema"
    return response


transaction = apicontractsv1.transactionRequestType()
transaction.transactionType = "authCaptureTransaction"
transaction.amount = "18.00"
order = apicontractsv1.orderType()
order.invoiceNumber = invoice
order.description = "SDK check"
transaction.order = order

return_options = apicontractsv1.settingType()
return_options.settingName = apicontractsv1.settingNameEnum.hostedPaymentReturnOptions
return_options.settingValue = (
    '{"showReceipt": false, "url": "%s/payments/authorizenet/return/SDK-CHECK", '
    '"urlText": "Continue", "cancelUrl": "%s/payments/authorizenet/cancel/SDK-CHECK", '
    '"cancelUrlText": "Cancel"}' % (shop, shop)
)
settings = apicontractsv1.ArrayOfSetting()
settings.setting.append(return_options)

request = apicontractsv1.getHostedPaymentPageRequest()
request.merchantAuthentication = auth
request.transactionRequest = transaction
request.hostedPaymentSettings = settings

page = run(getHostedPaymentPageController(request))
assert page.messages.resultCode == "Ok", page.messages.resultCode
token = str(page.token)
assert len(token) >= 32, token

# The shopper posts the token to the hosted form and presses Pay.
form = requests.post(f"{base}/sandbox/authorizenet/payment/payment", data={"token": token})
assert form.status_code == 200 and "Authorize.Net sandbox payment form" in form.text, form.status_code
paid = requests.post(
    f"{base}/sandbox/authorizenet/payment/action",
    data={"token": token, "action": "pay", "webhook": "never", "settlement": "unsettled", "card": "4111111111111111"},
    allow_redirects=False,
)
assert paid.status_code in (302, 303), paid.status_code
assert paid.headers["location"].endswith("/payments/authorizenet/return/SDK-CHECK")

unsettled_request = apicontractsv1.getUnsettledTransactionListRequest()
unsettled_request.merchantAuthentication = auth
unsettled = run(getUnsettledTransactionListController(unsettled_request))
assert unsettled.messages.resultCode == "Ok"
found = [t for t in unsettled.transactions.transaction if str(t.invoiceNumber) == invoice]
assert len(found) == 1, "the paid transaction is in the unsettled list"
trans_id = str(found[0].transId)

details_request = apicontractsv1.getTransactionDetailsRequest()
details_request.merchantAuthentication = auth
details_request.transId = trans_id
details = run(getTransactionDetailsController(details_request))
assert details.messages.resultCode == "Ok", details.messages.resultCode
t = details.transaction
assert str(t.transId) == trans_id
assert str(t.order.invoiceNumber) == invoice
assert str(t.transactionStatus) == "capturedPendingSettlement", t.transactionStatus
assert str(t.transactionType) == "authCaptureTransaction"
assert int(t.responseCode) == 1
assert f"{float(t.authAmount):.2f}" == "18.00" and f"{float(t.settleAmount):.2f}" == "18.00"
assert str(t.payment.creditCard.cardNumber) == "XXXX1111"

missing = apicontractsv1.getTransactionDetailsRequest()
missing.merchantAuthentication = auth
missing.transId = "1"
# Like Authorize.Net's own E00040 answer (messages only), this does not satisfy the schema's
# required <transaction>: the SDK reads it through its lxml fallback.
error = run(getTransactionDetailsController(missing), schema_valid=False)
assert error.messages.resultCode == "Error" and str(error.messages.message[0]["code"].text) == "E00040"

print(f"authorizenet SDK check: ok (token, transaction {trans_id} for {invoice}, details, E00040)")
