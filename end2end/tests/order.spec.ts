import { test, expect } from '@playwright/test';
import { audit } from './axe';

// The order page's cancel, in a real browser with JavaScript on and off: leaving the provider's page
// changes nothing by itself; **Cancel order** (a form post) cancels; the page passes an axe-core
// audit awaiting payment and cancelled.

test('leaving the provider keeps the order; Cancel order cancels it; the page passes axe', async ({ page, javaScriptEnabled }) => {
  await page.goto('/');
  await page
    .locator('article.product-card')
    .filter({ has: page.getByRole('heading', { name: 'Canvas Tote Bag' }) })
    .getByRole('button', { name: 'Add to cart' })
    .click();
  await expect(page.getByRole('link', { name: /Cart/ })).not.toContainText('(0)');
  await page.getByRole('link', { name: /Cart/ }).click();
  await page.getByRole('button', { name: 'Checkout' }).click();
  await page.getByLabel('Email').fill('leaver@example.com');
  await page.getByLabel('Name').fill('Mei Lin');
  await page.getByLabel('Address').fill('88 Nanjing Road');
  await page.getByLabel('City').fill('Shanghai');
  await page.getByLabel('Postcode').fill('200001');
  await page.getByLabel('Country').selectOption('China');
  await page.getByRole('group', { name: 'Payment method' }).getByRole('radio', { name: 'Stripe' }).check();
  await page.getByRole('button', { name: 'Pay' }).click();
  await expect(page.getByRole('heading', { name: 'Stripe sandbox checkout' })).toBeVisible();

  // Back to the shop from the provider's page: the order still waits.
  await page.getByRole('button', { name: 'Cancel', exact: true }).click();
  await expect(page).toHaveURL(/\/orders\/ORD-\d+\?left=1$/);
  await expect(page.getByTestId('order-status')).toHaveText('Awaiting payment');
  await expect(page.getByText('You left the payment page before paying.')).toBeVisible();
  if (javaScriptEnabled) {
    await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
  }
  await audit(page, javaScriptEnabled);

  await page.getByRole('button', { name: 'Cancel order' }).click();
  await expect(page.getByTestId('order-status')).toHaveText('Cancelled');
  await expect(page.getByRole('button', { name: 'Cancel order' })).toHaveCount(0);
  await expect(page.getByRole('button', { name: 'Try again' })).toBeVisible();
  await audit(page, javaScriptEnabled);
});
