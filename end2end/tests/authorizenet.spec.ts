import { test, expect, Page } from '@playwright/test';
import { audit } from './axe';

// Authorize.Net in a real browser, with JavaScript on and off: checkout in USD → the shop's page
// posts the Accept Hosted token to the sandbox's hosted form (by itself with JavaScript, the
// Continue button without) → the hosted form (axe-audited) → Pay → back to the order page, Paid.

async function addToCartInUsd(page: Page, name: string) {
  await page.goto('/');
  await page.getByLabel('Currency').selectOption('USD');
  await page.getByRole('button', { name: 'Change' }).click();
  await expect(page.locator('article.product-card .price').first()).toContainText('$');
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
  await page.getByLabel('Email').fill('sam@example.com');
  await page.getByLabel('Name').fill('Sam Carter');
  await page.getByLabel('Address').fill('1 Market Street');
  await page.getByLabel('City').fill('San Francisco');
  await page.getByLabel('Postcode').fill('94105');
  await page.getByLabel('Country').selectOption('United States');
  const methods = page.getByRole('group', { name: 'Payment method' });
  await methods.getByRole('radio', { name: method }).check();
  await page.getByRole('button', { name: 'Pay' }).click();
}

/** Through the shop's form page to the hosted form: it submits itself with JavaScript; without,
 * the shopper presses Continue. */
async function toHostedForm(page: Page, javaScriptEnabled: boolean | undefined) {
  if (!javaScriptEnabled) {
    await expect(page.getByRole('heading', { name: 'Continue to Authorize.Net' })).toBeVisible();
    await page.getByRole('button', { name: 'Continue' }).click();
  }
  await expect(page.getByRole('heading', { name: 'Authorize.Net sandbox payment form' })).toBeVisible();
  // The invoice number 000001-A1-K7QX2M → ORD-000001
  const invoice = await page.getByTestId('sandbox-reference').innerText();
  return 'ORD-' + invoice.replace(/^ORD-/, '').replace(/-A\d+(-[0-9A-Z]+)?$/, '');
}

test('pay with Authorize.Net in USD; the hosted form passes axe', async ({ page, javaScriptEnabled }) => {
  await addToCartInUsd(page, 'Canvas Tote Bag');
  await checkoutWith(page, 'Authorize.Net');
  const reference = await toHostedForm(page, javaScriptEnabled);
  await expect(page.getByTestId('sandbox-amount')).toHaveText('USD 18.00');
  await audit(page, javaScriptEnabled);

  await page.getByRole('button', { name: 'Pay', exact: true }).click();
  await expect(page).toHaveURL(new RegExp(`/orders/${reference}$`));
  await expect(page.getByTestId('order-status')).toHaveText('Paid');
  await expect(page.getByTestId('order-total')).toHaveText('$18.00');
});

test('Authorize.Net: Decline shows the declined transaction and the order fails', async ({ page, javaScriptEnabled }) => {
  await addToCartInUsd(page, 'Canvas Tote Bag');
  await checkoutWith(page, 'Authorize.Net');
  const reference = await toHostedForm(page, javaScriptEnabled);

  await page.getByRole('button', { name: 'Decline' }).click();
  await expect(page.getByRole('heading', { name: 'Payment declined' })).toBeVisible();
  await expect(page.getByRole('status')).toContainText('response code 2');
  await audit(page, javaScriptEnabled);
  await page.getByRole('link', { name: 'Continue' }).click();
  await expect(page).toHaveURL(new RegExp(`/orders/${reference}$`));
  await expect(page.getByTestId('order-status')).toHaveText('Failed');
});

test('Authorize.Net: Cancel returns to the shop with the order still awaiting payment', async ({ page, javaScriptEnabled }) => {
  await addToCartInUsd(page, 'Canvas Tote Bag');
  await checkoutWith(page, 'Authorize.Net');
  const reference = await toHostedForm(page, javaScriptEnabled);
  await page.getByRole('button', { name: 'Cancel', exact: true }).click();
  await expect(page).toHaveURL(new RegExp(`/orders/${reference}\\?left=1$`));
  await expect(page.getByTestId('order-status')).toHaveText('Awaiting payment');
  await expect(page.getByText('You left the payment page before paying.')).toBeVisible();
  await expect(page.getByRole('link', { name: 'Resume payment' })).toBeVisible();
});
