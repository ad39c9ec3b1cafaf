import { test, expect, Page } from '@playwright/test';

// The Content Security Policy in a real browser, with JavaScript on and off: the main pages, a
// provider redirect and a provider form post, and the guest link's order page, without a single
// CSP violation. With JavaScript the app must also hydrate under the policy (nonce'd hydration
// script, WASM under 'wasm-unsafe-eval', server functions and SSE under connect-src 'self').

/** Collects CSP (and Permissions-Policy) complaints: Chrome's own console lines, and with
 * JavaScript on every `securitypolicyviolation` event, reported to the console as well. */
function watchPolicy(page: Page, problems: string[]) {
  page.on('console', (m) => {
    if (/Content Security Policy|Content-Security-Policy|securitypolicyviolation|Permissions-Policy|Refused to/i.test(m.text())) {
      problems.push(`${page.url()}: ${m.text()}`);
    }
  });
  page.on('pageerror', (e) => problems.push(`${page.url()}: ${e.message}`));
  // Runs in every document before its own scripts (Playwright injects it outside the page's CSP).
  return page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      console.error(`securitypolicyviolation: ${e.violatedDirective} blocked ${e.blockedURI || 'inline'}`);
    });
  });
}

async function hydrated(page: Page, javaScriptEnabled: boolean | undefined) {
  if (javaScriptEnabled) {
    await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
  }
}

async function addToCart(page: Page, name: string) {
  await page.goto('/');
  await page
    .locator('article.product-card')
    .filter({ has: page.getByRole('heading', { name }) })
    .getByRole('button', { name: 'Add to cart' })
    .click();
  await expect(page.getByRole('link', { name: /Cart/ })).not.toContainText('(0)');
}

async function checkoutWith(page: Page, method: string) {
  await page.getByRole('link', { name: /Cart/ }).click();
  await page.getByRole('button', { name: 'Checkout' }).click();
  await expect(page.getByRole('heading', { name: 'Checkout', level: 1 })).toBeVisible();
  await page.getByLabel('Email').fill('csp@example.com');
  await page.getByLabel('Name').fill('Ada Lovelace');
  await page.getByLabel('Address').fill('12 St James Square');
  await page.getByLabel('City').fill('London');
  await page.getByLabel('Postcode').fill('SW1Y 4JH');
  await page.getByLabel('Country').selectOption('United Kingdom');
  await page.getByRole('group', { name: 'Payment method' }).getByRole('radio', { name: method }).check();
  await page.getByRole('button', { name: 'Pay' }).click();
}

test('the main pages hydrate and run under the CSP without a violation', async ({ page, javaScriptEnabled }) => {
  const problems: string[] = [];
  await watchPolicy(page, problems);
  for (const path of ['/', '/products/canvas-tote', '/login', '/register', '/account', '/no-such-page']) {
    const response = await page.goto(path);
    const csp = response?.headers()['content-security-policy'] ?? '';
    expect(csp, path).toContain("'nonce-");
    expect(csp, path).not.toMatch(/script-src[^;]*'unsafe-inline'/);
    await hydrated(page, javaScriptEnabled);
  }
  await addToCart(page, 'Canvas Tote Bag');
  await page.getByRole('link', { name: /Cart/ }).click();
  await hydrated(page, javaScriptEnabled);
  await page.getByRole('button', { name: 'Checkout' }).click();
  await expect(page.getByRole('heading', { name: 'Checkout', level: 1 })).toBeVisible();
  await hydrated(page, javaScriptEnabled);
  expect(problems, 'no CSP violations').toEqual([]);
});

test('a provider redirect, and the guest link whose page tells other sites nothing', async ({ page, context, javaScriptEnabled }) => {
  const problems: string[] = [];
  await watchPolicy(page, problems);
  await addToCart(page, 'Ceramic Mug');
  await checkoutWith(page, 'Stripe');
  await expect(page.getByRole('heading', { name: 'Stripe sandbox checkout' })).toBeVisible();
  await page.getByRole('button', { name: 'Cancel', exact: true }).click();
  await expect(page.getByTestId('order-status')).toHaveText('Awaiting payment');
  await hydrated(page, javaScriptEnabled);
  const link = await page.locator('a[href*="?key="]').first().getAttribute('href');
  expect(link).toBeTruthy();

  // The guest link in a fresh browser (no session): same-origin referrer, and its own forms
  // still post (the browser keeps sending the shop its Origin).
  const guest = await context.browser()!.newContext({ javaScriptEnabled });
  const other = await guest.newPage();
  await watchPolicy(other, problems);
  const response = await other.goto(link!);
  expect(response?.headers()['referrer-policy']).toBe('same-origin');
  await expect(other.getByTestId('order-status')).toHaveText('Awaiting payment');
  await hydrated(other, javaScriptEnabled);
  await other.getByRole('button', { name: 'Cancel order' }).click();
  await expect(other.getByTestId('order-status')).toHaveText('Cancelled');
  await guest.close();
  expect(problems, 'no CSP violations').toEqual([]);
});

test('a provider form post: the Alipay page submits itself under its hash-only policy', async ({ page, javaScriptEnabled }) => {
  const problems: string[] = [];
  await watchPolicy(page, problems);
  await page.goto('/');
  await page.getByLabel('Currency').selectOption('CNY');
  await page.getByRole('button', { name: 'Change' }).click();
  await expect(page.locator('article.product-card .price').first()).toContainText('CN¥');
  await addToCart(page, 'Linen Apron');
  await checkoutWith(page, 'Alipay');
  if (!javaScriptEnabled) {
    await expect(page.getByRole('heading', { name: 'Continue to Alipay' })).toBeVisible();
    await page.getByRole('button', { name: 'Continue' }).click();
  }
  await expect(page.getByRole('heading', { name: 'Alipay sandbox cashier' })).toBeVisible();
  await page.getByRole('button', { name: 'Pay', exact: true }).click();
  await expect(page.getByTestId('order-status')).toHaveText('Paid');
  await hydrated(page, javaScriptEnabled);
  expect(problems, 'no CSP violations').toEqual([]);
});
