import { test, expect, Page } from '@playwright/test';

// The payment path in a real browser, with JavaScript on and off: checkout → the built-in sandbox's
// hosted page → back to the order page, whose status follows the provider's confirmation.

async function addToCart(page: Page, name: string) {
  await page.goto('/');
  await page
    .locator('article.product-card')
    .filter({ has: page.getByRole('heading', { name }) })
    .getByRole('button', { name: 'Add to cart' })
    .click();
  await expect(page.getByRole('link', { name: /Cart/ })).not.toContainText('(0)');
}

async function fillCheckout(page: Page, method: string) {
  await page.getByRole('link', { name: /Cart/ }).click();
  await page.getByRole('button', { name: 'Checkout' }).click();
  await expect(page.getByRole('heading', { name: 'Checkout', level: 1 })).toBeVisible();
  await page.getByLabel('Email').fill('shopper@example.com');
  await page.getByLabel('Name').fill('Rahim Uddin');
  await page.getByLabel('Address').fill('House 12, Road 5');
  await page.getByLabel('City').fill('Dhaka');
  await page.getByLabel('Postcode').fill('1207');
  await page.getByLabel('Country').selectOption('Bangladesh');
  const methods = page.getByRole('group', { name: 'Payment method' });
  await methods.getByRole('radio', { name: method }).check();
}

/** The order reference behind the sandbox page's attempt reference (ORD-000001-A1-K7QX2M →
 * ORD-000001). */
async function orderReference(page: Page) {
  const attempt = await page.getByTestId('sandbox-reference').innerText();
  return attempt.replace(/-A\d+(-[0-9A-Z]+)?$/, '');
}

function watchConsole(page: Page, problems: string[]) {
  page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') problems.push(`${page.url()}: ${m.text()}`); });
  page.on('pageerror', (e) => problems.push(`${page.url()}: ${e.message}`));
}

test('pay with Stripe: the order page turns Paid live, without a reload', async ({ page, context, javaScriptEnabled }) => {
  const problems: string[] = [];
  watchConsole(page, problems);
  await addToCart(page, 'Canvas Tote Bag');
  await fillCheckout(page, 'Stripe');
  if (javaScriptEnabled) {
    await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
  }
  await page.getByRole('button', { name: 'Pay' }).click();
  await expect(page.getByRole('heading', { name: 'Stripe sandbox checkout' })).toBeVisible();
  const reference = await orderReference(page);

  // The shopper's other tab shows the order while it awaits payment.
  const watcher = await context.newPage();
  watchConsole(watcher, problems);
  await watcher.goto(`/orders/${reference}`);
  await expect(watcher.getByTestId('order-status')).toHaveText('Awaiting payment');
  if (javaScriptEnabled) {
    await expect(watcher.locator('body')).toHaveAttribute('data-hydrated', 'true');
    await watcher.evaluate(() => ((window as any).__sameDocument = true));
  }

  await page.getByRole('button', { name: 'Pay', exact: true }).click();
  await expect(page).toHaveURL(new RegExp(`/orders/${reference}$`));
  await expect(page.getByTestId('order-status')).toHaveText('Paid');
  await expect(page.getByTestId('order-total')).toHaveText('$18.00');

  // Live over Server-Sent Events with JavaScript; by its own refresh without.
  await expect(watcher.getByTestId('order-status')).toHaveText('Paid');
  if (javaScriptEnabled) {
    expect(await watcher.evaluate(() => (window as any).__sameDocument)).toBe(true);
    // (Without JavaScript the only console line is Chrome noting the unused WASM preload.)
    expect(problems, 'no hydration errors or warnings in the console').toEqual([]);
  }
});

test('pay with SSLCOMMERZ in BDT', async ({ page, javaScriptEnabled }) => {
  await page.goto('/');
  await page.getByLabel('Currency').selectOption('BDT');
  await page.getByRole('button', { name: 'Change' }).click();
  await expect(page.locator('article.product-card .price').first()).toContainText('৳');
  await addToCart(page, 'Ceramic Mug');
  await fillCheckout(page, 'SSLCOMMERZ');
  await expect(page.getByRole('radio', { name: 'Stripe' })).toHaveCount(0);
  await page.getByRole('button', { name: 'Pay' }).click();
  await expect(page.getByRole('heading', { name: 'SSLCOMMERZ sandbox payment' })).toBeVisible();
  const reference = await orderReference(page);
  await page.getByRole('button', { name: 'Pay', exact: true }).click();
  if (!javaScriptEnabled) {
    // Without JavaScript the return form does not submit itself.
    await page.getByRole('button', { name: 'Continue to the shop' }).click();
  }
  await expect(page).toHaveURL(new RegExp(`/orders/${reference}$`));
  await expect(page.getByTestId('order-status')).toHaveText('Paid');
  await expect(page.getByTestId('order-total')).toHaveText('৳1,680.00');
});

test('a declined payment shows Failed and a way to try again', async ({ page }) => {
  await addToCart(page, 'Linen Apron');
  await fillCheckout(page, 'Stripe');
  await page.getByRole('button', { name: 'Pay' }).click();
  await page.getByRole('button', { name: 'Decline' }).click();
  await expect(page.getByTestId('order-status')).toHaveText('Failed');
  await expect(page.getByText('The payment did not go through')).toBeVisible();
  await page.getByRole('button', { name: 'Try again' }).click();
  await expect(page.getByRole('heading', { name: 'Checkout', level: 1 })).toBeVisible();
  await expect(page.getByText('1 × Linen Apron')).toBeVisible();
});
