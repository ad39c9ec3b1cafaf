import { test, expect } from '@playwright/test';
import { audit } from './axe';

// PayPal in a real browser with JavaScript on and off: USD checkout → PayPal's sandbox approval
// page (which passes an axe-core audit) → Pay → back at the shop, which captures the order once
// (on the return or on the CHECKOUT.ORDER.APPROVED webhook, whichever comes first) → *Paid*.

test('PayPal in USD ends Paid; the approval page passes axe', async ({ page, javaScriptEnabled }) => {
  await page.goto('/');
  await page
    .locator('article.product-card')
    .filter({ has: page.getByRole('heading', { name: 'Canvas Tote Bag' }) })
    .getByRole('button', { name: 'Add to cart' })
    .click();
  await expect(page.getByRole('link', { name: /Cart/ })).not.toContainText('(0)');
  await page.getByRole('link', { name: /Cart/ }).click();
  await page.getByRole('button', { name: 'Checkout' }).click();
  await page.getByLabel('Email').fill('paypal-buyer@example.com');
  await page.getByLabel('Name').fill('Ana Souza');
  await page.getByLabel('Address').fill('12 Rua Augusta');
  await page.getByLabel('City').fill('Lisbon');
  await page.getByLabel('Postcode').fill('1100-048');
  await page.getByLabel('Country').selectOption('Portugal');
  await page.getByRole('group', { name: 'Payment method' }).getByRole('radio', { name: 'PayPal' }).check();
  await page.getByRole('button', { name: 'Pay' }).click();

  await expect(page.getByRole('heading', { level: 1, name: 'PayPal sandbox checkout' })).toBeVisible();
  await expect(page).toHaveURL(/\/sandbox\/paypal\/checkoutnow\?token=[A-Z0-9]{17}$/);
  await expect(page.getByTestId('sandbox-amount')).toHaveText('$18.00');
  await expect(page.getByTestId('sandbox-reference')).toHaveText(/^ORD-\d+-A1-[0-9A-Z]{6}$/);
  await audit(page, javaScriptEnabled);

  await page.getByRole('button', { name: 'Pay', exact: true }).click();
  await expect(page).toHaveURL(/\/orders\/ORD-\d+$/);
  // Paid once the capture lands: at once after the return's capture, or live (JavaScript) / by the
  // page's own refresh (no JavaScript) if the webhook's capture won.
  await expect(page.getByTestId('order-status')).toHaveText('Paid', { timeout: 15_000 });
  await expect(page.getByText('$18.00').first()).toBeVisible();
});
