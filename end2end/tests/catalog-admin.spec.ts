import { test, expect, Page } from '@playwright/test';
import { audit } from './axe';

// The merchant fills the catalogue (issue 24, first part), with JavaScript on and off: a category,
// a product with every field but photos (a refused save keeps what was typed), the shopper finds
// and buys it, a rename keeps the old address, Remove takes it out of the shop. axe on each page.

async function logInAsMerchant(page: Page) {
  await page.goto('/login');
  await page.getByLabel('Email').fill('merchant@example.com');
  await page.getByLabel('Password').fill('merchant-password-1');
  await page.getByRole('button', { name: 'Log in' }).click();
  await expect(page.getByText('(merchant)')).toBeAttached();
}

test('a merchant adds a category and a product; shoppers find it; a rename keeps its address', async ({ page, javaScriptEnabled }, testInfo) => {
  const run = testInfo.project.name === 'javascript-on' ? 'on' : 'off';
  const name = `Enamel Mug ${run}`;
  await logInAsMerchant(page);

  await page.goto('/admin/products');
  await page.getByRole('link', { name: 'Categories' }).click();
  await expect(page.getByRole('heading', { name: 'Categories', level: 1 })).toBeVisible();
  await audit(page, javaScriptEnabled);
  await page.getByLabel('Name', { exact: true }).fill(`Camping ${run}`);
  await page.getByRole('button', { name: 'Add category' }).click();
  await expect(page.getByRole('status')).toHaveText(`Saved the category Camping ${run}.`);
  await expect(page.getByLabel(`URL slug of Camping ${run}`)).toHaveValue(`camping-${run}`);
  await audit(page, javaScriptEnabled);

  await page.goto('/admin/products');
  await page.getByRole('link', { name: 'New product' }).click();
  await expect(page.getByRole('heading', { name: 'New product', level: 1 })).toBeVisible();
  await audit(page, javaScriptEnabled);
  await page.getByLabel('Name', { exact: true }).fill(name);
  await page.getByLabel('Description').fill('Steel with a blue enamel coat.');
  await page.getByLabel('SKU').fill(`MUG-${run}`);
  await page.getByLabel('Category').selectOption({ label: `Camping ${run}` });
  await page.getByLabel('Price in USD').fill('12.50');
  await page.getByLabel('Price in EUR').fill('0');
  await page.getByLabel('Stock').fill('30');
  await page.getByRole('button', { name: 'Add product' }).click();
  // Refused: everything typed is still there, the wrong price is marked and focused.
  await expect(page.getByRole('alert').first()).toHaveText('A price in EUR must be more than zero, or left empty.');
  await expect(page.getByLabel('Price in EUR')).toHaveAttribute('aria-invalid', 'true');
  await expect(page.getByLabel('Price in EUR')).toBeFocused();
  await expect(page.getByLabel('Name', { exact: true })).toHaveValue(name);
  await expect(page.getByLabel('Category')).toHaveValue(/\d+/);
  await audit(page, javaScriptEnabled);
  await page.getByLabel('Price in EUR').fill('');
  await page.getByRole('button', { name: 'Add product' }).click();
  await expect(page.getByRole('status')).toHaveText(`Added ${name} to the catalogue.`);

  // The shopper finds it and puts it in the cart at its price.
  await page.goto(`/products/enamel-mug-${run}`);
  await expect(page.getByRole('heading', { name, level: 1 })).toBeVisible();
  await expect(page.getByText('Steel with a blue enamel coat.')).toBeVisible();
  await page.getByRole('button', { name: 'Add to cart' }).click();
  await expect(page.getByRole('status').filter({ hasText: `Added ${name} to your cart.` })).toBeVisible();

  // Found by its category and by a search for its SKU.
  await page.goto('/');
  await page.getByRole('navigation', { name: 'Categories' }).getByRole('link', { name: `Camping ${run}` }).click();
  await expect(page.getByRole('heading', { name: `Camping ${run}`, level: 1 })).toBeVisible();
  await expect(page.getByRole('heading', { name, level: 2 })).toBeVisible();
  await page.getByLabel('Search products').fill(`mug-${run}`);
  await page.getByRole('button', { name: 'Search' }).click();
  await expect(page.getByRole('heading', { name, level: 2 })).toBeVisible();
  await expect(page.locator('article.product-card')).toHaveCount(1);
  await audit(page, javaScriptEnabled);

  // A rename: the old address leads to the new one.
  await page.goto('/admin/products');
  await page.getByRole('link', { name: `Edit ${name}` }).click();
  await expect(page.getByRole('heading', { name: `Edit ${name}`, level: 1 })).toBeVisible();
  await page.getByLabel('URL slug').fill(`blue-enamel-mug-${run}`);
  await page.getByRole('button', { name: 'Save' }).click();
  await expect(page.getByRole('status')).toHaveText(`Saved ${name}.`);
  await page.goto(`/products/enamel-mug-${run}`);
  await expect(page).toHaveURL(new RegExp(`/products/blue-enamel-mug-${run}$`));

  // Remove: it has no orders, so it goes.
  await page.goto('/admin/products');
  await page.getByRole('button', { name: `Remove ${name}` }).click();
  await expect(page.getByRole('status')).toHaveText(`Deleted ${name}.`);
  await page.goto('/');
  await expect(page.getByRole('heading', { name })).toHaveCount(0);
});
