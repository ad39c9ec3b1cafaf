import { test, expect, Page } from '@playwright/test';
import { audit } from './axe';
import { logInAsMerchant } from './merchant';

// The merchant fills the catalogue, with JavaScript on and off: a category,
// a product with every field but photos (a refused save keeps what was typed), the shopper finds
// and buys it, a rename keeps the old address, Remove takes it out of the shop. axe on each page.

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

test('a product with two photos is found by search, bought, archived; a CSV with a bad line imports nothing', async ({ page, javaScriptEnabled }, testInfo) => {
  const run = testInfo.project.name === 'javascript-on' ? 'on' : 'off';
  const name = `Photo Kettle ${run}`;
  await logInAsMerchant(page);
  await page.goto('/admin/products/new');
  await page.getByLabel('Name', { exact: true }).fill(name);
  await page.getByLabel('Description').fill('**Copper** kettle.\n\n- 1.5 litres\n- wooden handle');
  await page.getByLabel('SKU').fill(`KETTLE-${run}`);
  await page.getByLabel('Price in USD').fill('30');
  await page.getByLabel('Stock').fill('4');
  await page.getByRole('button', { name: 'Add product' }).click();
  await expect(page.getByRole('status')).toHaveText(`Added ${name} to the catalogue.`);

  // Two photos: the second is refused first (no alt text), then added; then made the card image.
  await page.getByRole('link', { name: `Edit ${name}` }).click();
  await expect(page.getByRole('heading', { name: 'Photos', level: 2 })).toBeVisible();
  await audit(page, javaScriptEnabled);
  await page.getByLabel('Photo', { exact: true }).setInputFiles('fixtures/mug-front.png');
  await page.getByLabel('Alt text', { exact: true }).fill('The kettle from the front');
  await page.getByRole('button', { name: 'Upload photo' }).click();
  await expect(page.getByRole('status')).toHaveText('Added the photo (800 × 600).');
  await page.getByLabel('Photo', { exact: true }).setInputFiles('fixtures/mug-side.png');
  await page.getByRole('button', { name: 'Upload photo' }).evaluate((b) => (b.closest('form') as HTMLFormElement).noValidate = true);
  await page.getByRole('button', { name: 'Upload photo' }).click();
  await expect(page.getByText('Describe the photo for shoppers who cannot see it (alt text).')).toBeVisible();
  await expect(page.getByLabel('Alt text', { exact: true })).toHaveAttribute('aria-invalid', 'true');
  await audit(page, javaScriptEnabled);
  await page.getByLabel('Photo', { exact: true }).setInputFiles('fixtures/mug-side.png');
  await page.getByLabel('Alt text', { exact: true }).fill('The kettle from the side');
  await page.getByRole('button', { name: 'Upload photo' }).click();
  await expect(page.getByRole('status')).toHaveText('Added the photo (600 × 600).');
  await expect(page.getByLabel('Photo 2: alt text')).toHaveValue('The kettle from the side');
  await page.getByRole('button', { name: 'Move earlier' }).click();
  await expect(page.getByRole('status')).toHaveText("Moved the photo first: it is the product's card image now.");
  await expect(page.getByLabel('Photo 1 (the card image): alt text')).toHaveValue('The kettle from the side');
  await audit(page, javaScriptEnabled);

  // A shopper (a guest: the merchant's account cart is shared with the other tests) finds it by
  // search; the card shows the side photo, the page both with their alt.
  await page.getByRole('button', { name: 'Log out' }).click();
  await expect(page.getByRole('link', { name: 'Log in' })).toBeVisible();
  await page.goto('/');
  await page.getByLabel('Search products').fill(`kettle-${run}`);
  await page.getByRole('button', { name: 'Search' }).click();
  const card = page.locator('article.product-card');
  await expect(card).toHaveCount(1);
  await expect(card.locator('img')).toHaveAttribute('srcset', /\/media\/[0-9a-f]{20}-320\.jpg 320w, \/media\/[0-9a-f]{20}-600\.jpg 600w/);
  await card.getByRole('link').click();
  await expect(page.getByRole('heading', { name, level: 1 })).toBeVisible();
  await expect(page.getByRole('img', { name: 'The kettle from the side' })).toBeVisible();
  await expect(page.getByRole('img', { name: 'The kettle from the front' })).toBeVisible();
  await expect(page.locator('.description strong')).toHaveText('Copper');
  await expect(page.locator('.description li')).toHaveCount(2);
  await audit(page, javaScriptEnabled);

  // Bought through the Stripe sandbox.
  await page.getByRole('button', { name: 'Add to cart' }).click();
  await expect(page.getByRole('link', { name: /Cart/ })).not.toContainText('(0)');
  await page.getByRole('link', { name: /Cart/ }).click();
  await page.getByRole('button', { name: 'Checkout' }).click();
  await page.getByLabel('Email').fill('shopper@example.com');
  await page.getByLabel('Name').fill('Rahim Uddin');
  await page.getByLabel('Address').fill('House 12, Road 5');
  await page.getByLabel('City').fill('Dhaka');
  await page.getByLabel('Postcode').fill('1207');
  await page.getByLabel('Country').selectOption('Bangladesh');
  await page.getByRole('group', { name: 'Payment method' }).getByRole('radio', { name: 'Stripe' }).check();
  await page.getByRole('button', { name: 'Pay' }).click();
  await expect(page.getByRole('heading', { name: 'Stripe sandbox checkout' })).toBeVisible();
  await page.getByRole('button', { name: 'Pay', exact: true }).click();
  await expect(page.getByTestId('order-status')).toHaveText('Paid', { timeout: 15_000 });

  // Removed now, it is archived: it has an order.
  await logInAsMerchant(page);
  await page.goto('/admin/products');
  await page.getByRole('button', { name: `Remove ${name}` }).click();
  await expect(page.getByRole('status')).toContainText(`Archived ${name}: it has orders`);
  await page.goto(`/?q=kettle-${run}`);
  await expect(page.locator('article.product-card')).toHaveCount(0);

  // A CSV with one bad line: the check lists it by line, Import is not offered, nothing changes.
  await page.goto('/admin/products');
  await page.getByRole('link', { name: 'Import or export (CSV)' }).click();
  await expect(page.getByRole('heading', { name: 'Import and export products', level: 1 })).toBeVisible();
  await audit(page, javaScriptEnabled);
  const csv = [
    'sku,name,category,stock,price_usd',
    `CSV-A-${run},Imported Cup A ${run},Imported ${run},3,4.00`,
    `CSV-B-${run},Imported Cup B ${run},Imported ${run},-2,4.00`,
  ].join('\n');
  await page.getByLabel('CSV file').setInputFiles({ name: 'cups.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) });
  await page.getByRole('button', { name: 'Check the file' }).click();
  await expect(page.getByRole('alert')).toHaveText('“cups.csv” has 1 problem; nothing was changed.');
  await expect(page.getByRole('row', { name: /^3 / })).toContainText(`SKU CSV-B-${run.toUpperCase()}: stock: Stock cannot be negative.`);
  await expect(page.getByRole('button', { name: /Import these/ })).toHaveCount(0);
  await audit(page, javaScriptEnabled);
  // Fixed, checked, imported.
  await page.getByLabel('CSV file').setInputFiles({ name: 'cups.csv', mimeType: 'text/csv', buffer: Buffer.from(csv.replace(',-2,', ',2,')) });
  await page.getByRole('button', { name: 'Check the file' }).click();
  await expect(page.getByRole('status')).toContainText('“cups.csv” is ready to import (2 products): 2 new, 0 updated');
  await page.getByRole('button', { name: 'Import these 2 products' }).click();
  await expect(page.getByRole('status')).toHaveText(`Imported “cups.csv”: 2 new, 0 updated; new categories: Imported ${run}.`);
  await page.goto(`/?category=imported-${run}`);
  await expect(page.locator('article.product-card')).toHaveCount(2);
});
