import { test, expect, Page } from '@playwright/test';
import { audit } from './axe';

// Braintree in a real browser with JavaScript on and off: USD checkout → the shop's own payment
// page (Braintree has no hosted page; in sandbox mode the sandbox's stand-in Drop-in replaces
// Braintree's script) → the stand-in Drop-in → Pay → the shop makes transaction.sale once →
// *Paid*. Decline → *Failed* with the reason → Try again. Both pages pass an axe-core audit.

async function checkoutWithBraintree(page: Page, email: string) {
  await page.goto('/');
  await page
    .locator('article.product-card')
    .filter({ has: page.getByRole('heading', { name: 'Canvas Tote Bag' }) })
    .getByRole('button', { name: 'Add to cart' })
    .click();
  await expect(page.getByRole('link', { name: /Cart/ })).not.toContainText('(0)');
  await page.getByRole('link', { name: /Cart/ }).click();
  await page.getByRole('button', { name: 'Checkout' }).click();
  await payOnCheckout(page, email);
}

async function payOnCheckout(page: Page, email: string) {
  await expect(page.getByRole('heading', { name: 'Checkout', level: 1 })).toBeVisible();
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Name').fill('Ana Souza');
  await page.getByLabel('Address').fill('12 Rua Augusta');
  await page.getByLabel('City').fill('Lisbon');
  await page.getByLabel('Postcode').fill('1100-048');
  await page.getByLabel('Country').selectOption('Portugal');
  await page.getByRole('group', { name: 'Payment method' }).getByRole('radio', { name: 'Braintree' }).check();
  await page.getByRole('button', { name: 'Pay' }).click();
}

async function throughTheShopPage(page: Page, javaScriptEnabled: boolean | undefined) {
  if (!javaScriptEnabled) {
    // Without JavaScript the shop's page (in the shop's layout, with the order's summary) waits for
    // a click; with it, the stand-in Drop-in opens at once, as Braintree's own loads in place.
    await expect(page.getByRole('heading', { level: 1, name: 'Continue to Braintree' })).toBeVisible();
    await expect(page).toHaveURL(/\/payments\/braintree\/go\/ORD-\d+-A\d+-[0-9A-Z]{6}$/);
    await expect(page.getByTestId('braintree-amount')).toHaveText('$18.00');
    await expect(page.locator('.checkout-summary')).toContainText('Canvas Tote Bag');
    await expect(page.locator('link[rel="stylesheet"]')).toHaveAttribute('href', /^\/pkg\/storefront\..*css$/);
    await page.getByRole('button', { name: 'Continue to the test Drop-in' }).click();
  }
  await expect(page.getByRole('heading', { level: 1, name: 'Braintree sandbox Drop-in' })).toBeVisible();
  await expect(page.getByTestId('sandbox-amount')).toHaveText('$18.00');
  await expect(page.getByTestId('sandbox-reference')).toHaveText(/^ORD-\d+-A\d+-[0-9A-Z]{6}$/);
  await audit(page, javaScriptEnabled);
}

test('Braintree in USD ends Paid; the shop page and the Drop-in stand-in pass axe', async ({ page, javaScriptEnabled }) => {
  await checkoutWithBraintree(page, 'braintree-buyer@example.com');
  await throughTheShopPage(page, javaScriptEnabled);
  await page.getByRole('button', { name: 'Pay', exact: true }).click();
  await expect(page).toHaveURL(/\/orders\/ORD-\d+$/);
  await expect(page.getByTestId('order-status')).toHaveText('Paid', { timeout: 15_000 });
  await expect(page.getByText('$18.00').first()).toBeVisible();
});

test('Braintree Decline ends Failed with the reason shown, and Try again pays', async ({ page, javaScriptEnabled }) => {
  await checkoutWithBraintree(page, 'braintree-decline@example.com');
  await throughTheShopPage(page, javaScriptEnabled);
  await page.getByRole('button', { name: 'Decline' }).click();
  await expect(page).toHaveURL(/\/orders\/ORD-\d+$/);
  await expect(page.getByTestId('order-status')).toHaveText('Failed', { timeout: 15_000 });
  await expect(page.getByTestId('failure-reason')).toContainText('the card was declined (Do Not Honor, code 2000)');
  // Try again puts the lines back in the cart and opens the checkout: a new order, paid.
  await page.getByRole('button', { name: 'Try again' }).click();
  await expect(page).toHaveURL(/\/checkout$/);
  await payOnCheckout(page, 'braintree-decline@example.com');
  await throughTheShopPage(page, javaScriptEnabled);
  await page.getByRole('button', { name: 'Pay', exact: true }).click();
  await expect(page.getByTestId('order-status')).toHaveText('Paid', { timeout: 15_000 });
});

test('the Braintree hand-off page wears the shop\'s layout and passes axe', async ({ page, javaScriptEnabled }) => {
  test.skip(!javaScriptEnabled, 'axe runs with JavaScript on; the page is the same server render');
  // Hold the stand-in back so the page that opens it at once can be looked at.
  await page.route('**/sandbox/braintree/dropin', (route) => route.fulfill({ status: 204 }));
  await checkoutWithBraintree(page, 'braintree-look@example.com');
  await expect(page.getByRole('heading', { level: 1, name: 'Continue to Braintree' })).toBeVisible();
  await expect(page.locator('.checkout-summary')).toContainText('$18.00');
  await audit(page, javaScriptEnabled);
  await page.screenshot({ path: '../target/screenshots/braintree-handoff.png', fullPage: true });
});
