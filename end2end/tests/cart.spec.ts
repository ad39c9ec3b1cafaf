import { test, expect, Page } from '@playwright/test';
import { logInAsMerchant } from './merchant';

// Runs twice: once with JavaScript on (the page's islands hydrate and Add to cart must not reload
// it; the other forms are plain posts in both modes) and once with JavaScript off (every form is a
// plain post and redirect).

function card(page: Page, name: string) {
  return page.locator('article.product-card').filter({ has: page.getByRole('heading', { name }) });
}

function cartRow(page: Page, name: string) {
  return page.getByRole('row').filter({ has: page.getByRole('link', { name }) });
}

test('browse, add two products, change a quantity, and the total is right', async ({ page, javaScriptEnabled }) => {
  const problems: string[] = [];
  page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') problems.push(m.text()); });
  page.on('pageerror', (e) => problems.push(e.message));
  await page.goto('/');
  await expect(page.getByRole('heading', { name: 'Shop', level: 1 })).toBeVisible();
  if (javaScriptEnabled) {
    await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
    await page.evaluate(() => ((window as any).__sameDocument = true));
  }

  await card(page, 'Canvas Tote Bag').getByRole('button', { name: 'Add to cart' }).click();
  await expect(page.getByRole('link', { name: /Cart/ })).toContainText('(1)');
  await card(page, 'Ceramic Mug').getByRole('button', { name: 'Add to cart' }).click();
  await expect(page.getByRole('link', { name: /Cart/ })).toContainText('(2)');
  if (javaScriptEnabled) {
    await expect(page.getByRole('status')).toContainText('Added Ceramic Mug to your cart.');
    expect(await page.evaluate(() => (window as any).__sameDocument)).toBe(true);
  }

  await page.getByRole('link', { name: /Cart/ }).click();
  await expect(page.getByRole('heading', { name: 'Cart', level: 1 })).toBeVisible();
  await expect(page.getByTestId('cart-total')).toHaveText('$32.00');

  const mug = cartRow(page, 'Ceramic Mug');
  await mug.getByLabel('Quantity').fill('3');
  await mug.getByRole('button', { name: 'Update' }).click();
  await expect(cartRow(page, 'Ceramic Mug').getByLabel('Quantity')).toHaveValue('3');
  await expect(page.getByTestId('cart-total')).toHaveText('$60.00');
  await expect(page.getByRole('link', { name: /Cart/ })).toContainText('(4)');

  await cartRow(page, 'Canvas Tote Bag').getByRole('button', { name: 'Remove' }).click();
  await expect(page.getByTestId('cart-total')).toHaveText('$42.00');
  await expect(page.getByRole('button', { name: 'Checkout' })).toBeVisible();
  expect(problems, 'no hydration errors or warnings in the console').toEqual([]);
});

test('a refused quantity explains itself and changes nothing', async ({ page }) => {
  await page.goto('/products/scented-candle');
  await page.getByLabel('Quantity').fill('3');
  await page.getByRole('button', { name: 'Add to cart' }).click();
  await expect(page.getByRole('link', { name: /Cart/ })).toContainText('(3)');
  await page.getByLabel('Quantity').fill('1');
  await page.getByRole('button', { name: 'Add to cart' }).click();
  await expect(page.getByRole('alert')).toHaveText(
    'Only 3 of Soy Scented Candle left in stock (you already have 3 in your cart).',
  );
  await expect(page.getByRole('link', { name: /Cart/ })).toContainText('(3)');
});

test('the currency picker re-prices the shop', async ({ page }) => {
  await page.goto('/');
  await page.getByLabel('Currency').selectOption('JPY');
  await page.getByRole('button', { name: 'Change' }).click();
  await expect(card(page, 'Canvas Tote Bag').locator('.price')).toHaveText('¥2,700');
});

test('register, log out and log in again', async ({ page }, testInfo) => {
  const email = `e2e-${testInfo.project.name}-${Date.now()}@example.com`;
  await page.goto('/register');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill('a-long-password');
  await page.getByRole('button', { name: 'Create account' }).click();
  await expect(page.getByText(`Logged in as ${email}`)).toBeVisible();
  await page.getByRole('button', { name: 'Log out' }).click();
  await expect(page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Log in' })).toBeVisible();
  await page.goto('/login');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill('wrong-password');
  await page.getByRole('button', { name: 'Log in' }).click();
  await expect(page.getByRole('alert')).toHaveText('Email or password is incorrect.');
  // Without JavaScript the page was reloaded, so the fields start empty again.
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill('a-long-password');
  await page.getByRole('button', { name: 'Log in' }).click();
  await expect(page.getByText(`Logged in as ${email}`)).toBeVisible();
});

test('a merchant changes a price and the shop shows it', async ({ page }, testInfo) => {
  // Each project edits its own product, so the two runs never race.
  const product = testInfo.project.name === 'javascript-on' ? 'Linen Apron' : 'Cast Iron Pan';
  await logInAsMerchant(page);
  await page.getByRole('link', { name: 'Manage products' }).first().click();
  await page.getByLabel(`Price of ${product}`).fill('12.34');
  await page.getByRole('row').filter({ hasText: product }).getByRole('button', { name: 'Save' }).click();
  await expect(page.getByRole('status')).toHaveText(new RegExp(`^Saved ${product}: \\$12\\.34, \\d+ in stock, on sale\\.$`));
  await expect(page.getByLabel(`Price of ${product}`)).toHaveValue('12.34');
  await page.goto('/');
  await expect(card(page, product).locator('.price')).toHaveText('$12.34');
});
