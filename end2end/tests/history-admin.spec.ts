import { test, expect, Page } from '@playwright/test';
import { readFileSync } from 'fs';
import { audit } from './axe';

// After the payment, in a real browser with JavaScript on and off: a customer pays and sees *Paid*
// in their transaction history; the merchant finds the order in the admin list, opens it, reads the
// timeline, refunds part and then the rest, and downloads the CSV; the customer's history then reads
// *Refunded*. Every page on the way passes an axe-core audit.

const MERCHANT = { email: 'merchant@example.com', password: 'merchant-password-1' };

async function logIn(page: Page, email: string, password: string) {
  await page.goto('/login');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await expect(page.getByRole('button', { name: 'Log out' })).toBeVisible();
}

async function logOut(page: Page) {
  await page.getByRole('button', { name: 'Log out' }).click();
  await expect(page.getByRole('link', { name: 'Log in' })).toBeVisible();
}

test('history, admin list, timeline, two refunds and the CSV', async ({ page, javaScriptEnabled }, testInfo) => {
  const email = `buyer-${testInfo.project.name}-${Date.now()}@example.com`;
  const password = 'a-long-password-1';
  await page.goto('/register');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Create account' }).click();
  await expect(page.getByRole('button', { name: 'Log out' })).toBeVisible();

  // Two tote bags ($36.00), paid through the Stripe sandbox.
  await page.goto('/products/canvas-tote');
  await page.getByLabel('Quantity').fill('2');
  await page.getByRole('button', { name: 'Add to cart' }).click();
  await expect(page.getByRole('link', { name: /Cart/ })).toContainText('2');
  await page.getByRole('link', { name: /Cart/ }).click();
  await page.getByRole('button', { name: 'Checkout' }).click();
  await expect(page.getByLabel('Email')).toHaveValue(email);
  await page.getByLabel('Name').fill('Mei Lin');
  await page.getByLabel('Address').fill('88 Nanjing Road');
  await page.getByLabel('City').fill('Shanghai');
  await page.getByLabel('Postcode').fill('200001');
  await page.getByLabel('Country').selectOption('China');
  await page.getByRole('group', { name: 'Payment method' }).getByRole('radio', { name: 'Stripe' }).check();
  await page.getByRole('button', { name: 'Pay' }).click();
  await expect(page.getByRole('heading', { name: 'Stripe sandbox checkout' })).toBeVisible();
  const attempt = await page.getByTestId('sandbox-reference').innerText();
  const reference = attempt.replace(/-A\d+(-[0-9A-Z]+)?$/, '');

  // Meanwhile the history, in another tab, lists the order as awaiting payment; once paid, its
  // Status cell turns Paid by itself (the page's live stream with JavaScript, a self-refresh
  // without it).
  const history = await page.context().newPage();
  await history.goto('/account/orders');
  const waiting = history.getByRole('row').filter({ hasText: reference }).getByTestId('order-status');
  await expect(waiting).toHaveText('Awaiting payment');
  if (javaScriptEnabled) {
    await expect(history.locator('body')).toHaveAttribute('data-hydrated', 'true');
    await history.evaluate(() => ((window as any).__sameDocument = true));
  }
  await page.getByRole('button', { name: 'Pay', exact: true }).click();
  await expect(page.getByTestId('order-status')).toHaveText('Paid');
  await expect(waiting).toHaveText('Paid');
  if (javaScriptEnabled) {
    expect(await history.evaluate(() => (window as any).__sameDocument), 'updated without a reload').toBe(true);
  }
  await history.close();

  // The history lists it as paid.
  await page.getByRole('link', { name: 'Orders', exact: true }).click();
  await expect(page.getByRole('heading', { name: 'Your orders', level: 1 })).toBeVisible();
  const row = page.getByRole('row').filter({ hasText: reference });
  await expect(row.getByTestId('order-status')).toHaveText('Paid');
  await expect(row).toContainText('$36.00');
  await audit(page, javaScriptEnabled);
  await logOut(page);

  // The merchant finds it, opens it and reads the timeline.
  await logIn(page, MERCHANT.email, MERCHANT.password);
  await page.goto('/admin/orders');
  await expect(page.getByRole('heading', { name: 'Orders', level: 1 })).toBeVisible();
  if (javaScriptEnabled) {
    // A click before hydration finishes can be lost on a busy machine.
    await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
  }
  await audit(page, javaScriptEnabled);
  await page.getByLabel('Search').fill(reference);
  await page.getByRole('button', { name: 'Filter' }).click();
  await expect(page).toHaveURL(new RegExp(`q=${reference}|search=${reference}`));
  await expect(page.getByRole('link', { name: reference, exact: true })).toBeVisible();
  await page.getByRole('link', { name: reference, exact: true }).click();
  await expect(page.getByRole('heading', { name: `Order ${reference}`, level: 1 })).toBeVisible();
  await expect(page.getByTestId('admin-order-status')).toHaveText('Paid');
  await expect(page.getByTestId('timeline')).toContainText('checkout.session.completed');
  await audit(page, javaScriptEnabled);

  // The timeline speaks plainly; the raw ledger is folded under Technical details.
  await expect(page.getByTestId('timeline')).toContainText(/Paid by (Stripe webhook|asking Stripe)/);
  await expect(page.getByTestId('timeline').locator('pre').first()).toBeHidden();

  // Part of it, then the rest (the form is drawn again with what is left). The amount starts
  // empty, and Refund asks to confirm it in words before anything is refunded.
  await expect(page.getByLabel('Amount')).toHaveValue('');
  await expect(page.getByText('$36.00 can still be refunded')).toBeVisible();
  await page.getByLabel('Amount').fill('10.00');
  await page.getByLabel('Reason').fill('One bag arrived torn');
  await page.getByRole('button', { name: 'Refund', exact: true }).click();
  await expect(page.getByTestId('confirm-refund')).toContainText('Refund $10.00 to the customer?');
  await expect(page.getByTestId('admin-order-status')).toHaveText('Paid');
  await audit(page, javaScriptEnabled);
  await page.getByRole('button', { name: 'Refund $10.00' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Refunded $10.00.' })).toBeVisible();
  await expect(page.getByTestId('admin-order-status')).toHaveText('Partially refunded');
  await expect(page.getByTestId('refunds')).toContainText('One bag arrived torn');
  await expect(page.getByLabel('Amount')).toHaveValue('');
  await page.getByLabel('Amount').fill('26.00');
  await page.getByRole('button', { name: 'Refund', exact: true }).click();
  await page.getByRole('button', { name: 'Refund $26.00' }).click();
  await expect(page.getByTestId('admin-order-status')).toHaveText('Refunded');
  await expect(page.getByText('Nothing is left to refund on this order.')).toBeVisible();
  await audit(page, javaScriptEnabled);
  // For a person to look at (target/screenshots/): the merchant's order page and the chart.
  await page.screenshot({ path: `../target/screenshots/admin-order-${testInfo.project.name}.png`, fullPage: true });
  await page.goto('/admin/orders');
  await page.screenshot({ path: `../target/screenshots/admin-orders-${testInfo.project.name}.png`, fullPage: true });

  // The CSV with the same filters downloads, with the order refunded in full.
  await page.goto(`/admin/orders?q=${reference}`);
  const download = page.waitForEvent('download');
  await page.getByRole('link', { name: 'Export CSV' }).click();
  const csv = readFileSync(await (await download).path(), 'utf8');
  const line = csv.split('\n').find((l) => l.startsWith(reference));
  expect(line, csv).toBeDefined();
  expect(line).toContain('36.00,36.00');
  await logOut(page);

  // The customer's history and order page show the refunds.
  await logIn(page, email, password);
  await page.goto('/account/orders');
  await expect(page.getByRole('row').filter({ hasText: reference }).getByTestId('order-status')).toHaveText('Refunded');
  await page.getByRole('link', { name: reference, exact: true }).click();
  await expect(page.getByTestId('order-status')).toHaveText('Refunded');
  await expect(page.getByText('$26.00')).toBeVisible();
  await audit(page, javaScriptEnabled);
});
