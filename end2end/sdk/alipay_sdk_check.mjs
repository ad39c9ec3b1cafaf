// Drives the official Alipay SDK for Node (alipay-sdk 4.14.0, unchanged) against the shop's
// built-in Alipay sandbox: the keys published at /sandbox/alipay/keys, alipay.trade.query with the
// SDK's own response-signature check, a page.pay form from pageExecute (POST and GET) that the
// sandbox accepts (its cashier page comes back), trade.close, refusals of a request signed with
// the wrong key and of an answer checked with the wrong key, and (when <base-url> is the shop's
// PUBLIC_URL, as with default settings) Pay with the signed return parameters passing the SDK's
// checkNotifySign.
//
// Usage, from the repository root:  node end2end/sdk/alipay_sdk_check.mjs http://127.0.0.1:4100 [http://127.0.0.1:3150]
// Exit 0 when every check passes.

import { AlipaySdk } from 'alipay-sdk';
import { generateKeyPairSync } from 'node:crypto';

const base = (process.argv[2] || '').replace(/\/+$/, '');
// The shop the sandbox sends shoppers back to: the same server when the shop serves it.
const shop = (process.argv[3] || base).replace(/\/+$/, '');
if (!/^https?:\/\//.test(base)) {
  console.error('usage: node end2end/sdk/alipay_sdk_check.mjs <shop base URL>');
  process.exit(2);
}

let failures = 0;
function check(what, ok, detail = '') {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}${ok || !detail ? '' : `: ${detail}`}`);
  if (!ok) failures += 1;
}

const keysResponse = await fetch(`${base}/sandbox/alipay/keys`);
check('GET /sandbox/alipay/keys answers 200', keysResponse.status === 200, `status ${keysResponse.status}`);
const keys = await keysResponse.json();
const gateway = `${base}/sandbox/alipay/gateway.do`;
const sdk = new AlipaySdk({
  appId: keys.app_id,
  privateKey: keys.app_private_key,
  alipayPublicKey: keys.alipay_public_key,
  gateway,
});

const outTradeNo = `SDK_${Date.now()}`;
const query = () => sdk.exec('alipay.trade.query', { bizContent: { out_trade_no: outTradeNo } }, { validateSign: true });

// 1. An unknown trade: a signed ACQ.TRADE_NOT_EXIST, checked by the SDK.
try {
  const q = await query();
  check('trade.query of a new out_trade_no says ACQ.TRADE_NOT_EXIST (signature valid)',
    q.code === '40004' && q.subCode === 'ACQ.TRADE_NOT_EXIST', JSON.stringify(q));
} catch (e) {
  check('trade.query of a new out_trade_no', false, e.message);
}

// 2. page.pay as the SDK's auto-submitting POST form, posted as a browser would.
const bizContent = {
  out_trade_no: outTradeNo,
  product_code: 'FAST_INSTANT_TRADE_PAY',
  total_amount: '88.88',
  subject: 'SDK check',
};
const html = sdk.pageExecute('alipay.trade.page.pay', 'POST', { bizContent });
const action = /<form action="([^"]+)"/.exec(html)?.[1];
const fields = new URLSearchParams();
for (const m of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)" \/>/g)) {
  fields.append(m[1], m[2].replace(/&quot;/g, '"'));
}
check('pageExecute builds a form to the sandbox gateway', Boolean(action) && action.startsWith(gateway), action);
if (action) {
  const cashier = await fetch(action, {
    method: 'POST',
    body: fields,
    headers: { 'content-type': 'application/x-www-form-urlencoded;charset=utf-8' },
  });
  const page = await cashier.text();
  check('the sandbox accepts the POSTed page.pay form and shows its cashier',
    cashier.status === 200 && page.includes('Alipay sandbox cashier') && page.includes(outTradeNo),
    `status ${cashier.status}: ${page.slice(0, 300)}`);
}
const url = sdk.pageExecute('alipay.trade.page.pay', 'GET', { bizContent });
const viaGet = await fetch(url);
check('the sandbox accepts the GET page.pay URL (the same trade)',
  viaGet.status === 200 && (await viaGet.text()).includes(outTradeNo), `status ${viaGet.status}`);

// 3. The trade is now waiting for payment; then closed.
try {
  const q = await query();
  check('trade.query says WAIT_BUYER_PAY for CNY 88.88',
    q.code === '10000' && q.tradeStatus === 'WAIT_BUYER_PAY' && q.totalAmount === '88.88' && q.outTradeNo === outTradeNo,
    JSON.stringify(q));
  const c = await sdk.exec('alipay.trade.close', { bizContent: { out_trade_no: outTradeNo } }, { validateSign: true });
  check('trade.close succeeds', c.code === '10000', JSON.stringify(c));
  const closed = await query();
  check('trade.query then says TRADE_CLOSED', closed.tradeStatus === 'TRADE_CLOSED', JSON.stringify(closed));
} catch (e) {
  check('trade.query / trade.close', false, e.message);
}

// 4. Refusals: a request signed with another key, and an answer checked with another key.
const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
const wrongSigner = new AlipaySdk({
  appId: keys.app_id,
  privateKey: other.privateKey.export({ type: 'pkcs1', format: 'pem' }),
  alipayPublicKey: keys.alipay_public_key,
  gateway,
});
try {
  const r = await wrongSigner.exec('alipay.trade.query', { bizContent: { out_trade_no: outTradeNo } }, { validateSign: true });
  check('a request signed with another key is refused (isv.invalid-signature)',
    r.code === '40002' && r.subCode === 'isv.invalid-signature', JSON.stringify(r));
} catch (e) {
  check('a request signed with another key is refused', false, e.message);
}
const wrongVerifier = new AlipaySdk({
  appId: keys.app_id,
  privateKey: keys.app_private_key,
  alipayPublicKey: other.publicKey.export({ type: 'spki', format: 'pem' }),
  gateway,
});
try {
  await wrongVerifier.exec('alipay.trade.query', { bizContent: { out_trade_no: outTradeNo } }, { validateSign: true });
  check("the SDK rejects the sandbox's answer under another public key", false, 'no error thrown');
} catch (e) {
  check("the SDK rejects the sandbox's answer under another public key", /验签失败/.test(e.message), e.message);
}

// 5. Pay at the cashier with a return_url on the shop: the signed return parameters pass the SDK's
//    notify check (the notify's signing scheme), and a tampered copy does not. The sandbox only
//    sends shoppers to the shop's own origin, so this runs when <base-url> is the shop's PUBLIC_URL.
const paidTradeNo = `SDK_PAY_${Date.now()}`;
const returnUrl = `${shop}/payments/alipay/return/ORD-999999`;
const payForm = sdk.pageExecute('alipay.trade.page.pay', 'POST', {
  bizContent: { ...bizContent, out_trade_no: paidTradeNo },
  returnUrl,
});
const payAction = /<form action="([^"]+)"/.exec(payForm)?.[1];
const payFields = new URLSearchParams();
for (const m of payForm.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)" \/>/g)) {
  payFields.append(m[1], m[2].replace(/&quot;/g, '"'));
}
const payCashier = await fetch(payAction, { method: 'POST', body: payFields });
const payPage = await payCashier.text();
if (payCashier.status === 400 && payPage.includes('return_url must be a URL on the shop')) {
  console.log(`skip signed-return check: ${base} is not the shop's PUBLIC_URL`);
} else {
  const trade = /name="trade" value="([^"]+)"/.exec(payPage)?.[1];
  check('the cashier opens for the trade with a return_url', Boolean(trade), payPage.slice(0, 300));
  const paid = await fetch(`${base}/sandbox/alipay/cashier`, {
    method: 'POST',
    body: new URLSearchParams({ trade: trade ?? '', action: 'pay', webhook: 'never' }),
    redirect: 'manual',
  });
  const location = paid.headers.get('location') ?? '';
  check('Pay sends the browser to return_url', paid.status >= 300 && paid.status < 400 && location.startsWith(returnUrl), `${paid.status} ${location}`);
  const params = Object.fromEntries(new URL(location || returnUrl).searchParams);
  check('the SDK verifies the signed return parameters (checkNotifySign)', sdk.checkNotifySignV2(params), JSON.stringify(params));
  check('a tampered total_amount fails the SDK check', !sdk.checkNotifySignV2({ ...params, total_amount: '0.01' }));
  const paidQuery = await sdk.exec('alipay.trade.query', { bizContent: { out_trade_no: paidTradeNo } }, { validateSign: true });
  check('trade.query then says TRADE_SUCCESS', paidQuery.tradeStatus === 'TRADE_SUCCESS', JSON.stringify(paidQuery));
}

if (failures > 0) {
  console.error(`${failures} check(s) failed`);
  process.exit(1);
}
console.log('alipay-sdk 4.14.0 works against the sandbox unchanged');
