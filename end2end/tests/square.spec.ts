import { test, expect } from '@playwright/test';
import { audit } from './axe';

// Square in a real browser with JavaScript on and off: USD checkout → Square's sandbox checkout
// page for the payment link (which passes an axe-core audit) → Pay → back at the shop's return
// URL, which looks the order up (and the signed payment.updated webhook arrives too) → *Paid*.

test('Square in USD ends Paid; the checkout page passes axe', async ({ page, javaScriptEnabled }) => {
  await page.goto('/');
  await page
    .locator('article.product-card')
    .filter({ has: page.getByRole('heading', { name: 'Canvas Tote Bag' }) })
    .getByRole('button', { name: 'Add to cart' })
    .click();
  await expect(page.getByRole('link', { name: /Cart/ })).not.toContainText('(0)');
  await page.getByRole('link', { name: /Cart/ }).click();
  await page.getByRole('button', { name: 'Checkout' }).click();
  await page.getByLabel('Email').fill('square-buyer@example.com');
  await page.getByLabel('Name').fill('Jordan Lee');
  await page.getByLabel('Address').fill('500 Market Street');
  await page.getByLabel('City').fill('San Francisco');
  await page.getByLabel('Postcode').fill('94105');
  await page.getByLabel('Country').selectOption('United States');
  await page.getByRole('group', { name: 'Payment method' }).getByRole('radio', { name: 'Square' }).check();
  await page.getByRole('button', { name: 'Pay' }).click();

  await expect(page.getByRole('heading', { level: 1, name: 'Square sandbox checkout' })).toBeVisible();
  await expect(page).toHaveURL(/\/sandbox\/square\/checkout\/[A-Z0-9]{16}$/);
  await expect(page.getByTestId('sandbox-amount')).toHaveText('$18.00');
  await expect(page.getByTestId('sandbox-reference')).toHaveText(/^ORD-\d+-A1-[0-9A-Z]{6}$/);
  await audit(page, javaScriptEnabled);

  await page.getByRole('button', { name: 'Pay', exact: true }).click();
  await expect(page).toHaveURL(/\/orders\/ORD-\d+$/);
  await expect(page.getByTestId('order-status')).toHaveText('Paid', { timeout: 15_000 });
  await expect(page.getByText('$18.00').first()).toBeVisible();
});
