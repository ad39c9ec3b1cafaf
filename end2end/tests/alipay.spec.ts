import { test, expect, Page } from '@playwright/test';
import { audit } from './axe';

// Alipay in a real browser, with JavaScript on and off: checkout in CNY → the shop's page posts the
// signed page.pay form to the sandbox gateway (by itself with JavaScript, the Continue button
// without) → the sandbox cashier (axe-audited) → Pay → back to the order page, Paid.

async function addToCartInCny(page: Page, name: string) {
  await page.goto('/');
  await page.getByLabel('Currency').selectOption('CNY');
  await page.getByRole('button', { name: 'Change' }).click();
  await expect(page.locator('article.product-card .price').first()).toContainText('CN¥');
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
  await page.getByLabel('Email').fill('mei@example.com');
  await page.getByLabel('Name').fill('Mei Lin');
  await page.getByLabel('Address').fill('88 Nanjing Road');
  await page.getByLabel('City').fill('Shanghai');
  await page.getByLabel('Postcode').fill('200001');
  await page.getByLabel('Country').selectOption('China');
  const methods = page.getByRole('group', { name: 'Payment method' });
  // In CNY one card processor (Stripe) can take the cart: the choice reads just "Card".
  await expect(methods.getByRole('radio', { name: 'Card', exact: true })).toHaveCount(1);
  await methods.getByRole('radio', { name: method }).check();
  await page.getByRole('button', { name: 'Pay' }).click();
}

/** Through the shop's form page to the gateway: it submits itself with JavaScript; without, the
 * shopper presses Continue. */
async function toCashier(page: Page, javaScriptEnabled: boolean | undefined) {
  if (!javaScriptEnabled) {
    await expect(page.getByRole('heading', { name: 'Continue to Alipay' })).toBeVisible();
    await page.getByRole('button', { name: 'Continue' }).click();
  }
  await expect(page.getByRole('heading', { name: 'Alipay sandbox cashier' })).toBeVisible();
  // ORD_000001_A1 → ORD-000001
  const trade = await page.getByTestId('sandbox-reference').innerText();
  return trade.replace(/_/g, '-').replace(/-A\d+(-[0-9A-Z]+)?$/, '');
}

test('pay with Alipay in CNY; the cashier passes axe', async ({ page, javaScriptEnabled }) => {
  await addToCartInCny(page, 'Ceramic Mug');
  await checkoutWith(page, 'Alipay');
  const reference = await toCashier(page, javaScriptEnabled);
  await expect(page.getByTestId('sandbox-amount')).toHaveText('CNY 100.00');
  await audit(page, javaScriptEnabled);

  await page.getByRole('button', { name: 'Pay', exact: true }).click();
  await expect(page).toHaveURL(new RegExp(`/orders/${reference}$`));
  await expect(page.getByTestId('order-status')).toHaveText('Paid');
  await expect(page.getByTestId('order-total')).toHaveText('CN¥100.00');
});

test('Alipay: Decline keeps the trade open; Cancel returns to the shop, which cancels', async ({ page, javaScriptEnabled }) => {
  await addToCartInCny(page, 'Canvas Tote Bag');
  await checkoutWith(page, 'Alipay');
  const reference = await toCashier(page, javaScriptEnabled);

  await page.getByRole('button', { name: 'Decline' }).click();
  await expect(page.getByRole('alert')).toContainText('Payment declined');
  await audit(page, javaScriptEnabled);

  await page.getByRole('button', { name: 'Cancel', exact: true }).click();
  // Alipay has no cancel link of its own: the cashier sends the shopper to the return URL, so the
  // shop cannot tell this from a return ahead of the notify and waits (no "You left" here).
  await expect(page).toHaveURL(new RegExp(`/orders/${reference}$`));
  await expect(page.getByTestId('order-status')).toHaveText('Awaiting payment');
  if (javaScriptEnabled) {
    await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
  }
  await page.getByRole('button', { name: 'Cancel order' }).click();
  await expect(page.getByTestId('order-status')).toHaveText('Cancelled');
});
