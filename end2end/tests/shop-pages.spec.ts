import { test, expect, Page } from '@playwright/test';
import { audit } from './axe';
import { logInAsMerchant } from './merchant';

// The shop as a person meets it, at a laptop's width (1280 px) and a phone's (390 px), with
// JavaScript on and off: no page scrolls sideways on a phone, the header folds behind Menu, the
// catalogue shows two columns, Add to cart answers where the shopper looks, a refused checkout keeps
// what was typed, a cancel at the provider reads as a cancel (Resume payment, Back to cart), every
// status has its own badge, and JavaScript off downloads no WebAssembly. Screenshots for a person
// to look at go to target/screenshots/.

const WIDTHS = [
  { name: 'laptop', width: 1280, height: 900 },
  { name: 'phone', width: 390, height: 844 },
];

async function ready(page: Page, javaScriptEnabled: boolean | undefined) {
  if (javaScriptEnabled) {
    await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
  }
}

/** The page is no wider than the window: nothing to scroll sideways. */
async function fitsTheWindow(page: Page) {
  const { scrollWidth, innerWidth, wide } = await page.evaluate(() => ({
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth: window.innerWidth,
    // The innermost elements reaching past the window, to say what to fix.
    wide: [...document.querySelectorAll('body *')]
      .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 0.5)
      .filter((e) => ![...e.children].some((c) => c.getBoundingClientRect().right > window.innerWidth + 0.5))
      .slice(0, 5)
      .map((e) => `<${e.tagName.toLowerCase()} class="${e.className}">${(e.textContent ?? '').slice(0, 60)}`),
  }));
  expect(scrollWidth, `${page.url()} is ${scrollWidth}px wide in a ${innerWidth}px window: ${wide.join(' | ')}`).toBeLessThanOrEqual(innerWidth);
}

function card(page: Page, name: string) {
  return page.locator('article.product-card').filter({ has: page.getByRole('heading', { name }) });
}

async function shot(page: Page, name: string, label: string) {
  await page.screenshot({ path: `../target/screenshots/${name}-${label}.png`, fullPage: true });
}

for (const size of WIDTHS) {
  const phone = size.width < 600;
  test.describe(`at ${size.width} px`, () => {
    test.use({ viewport: { width: size.width, height: size.height } });

    test('the catalogue: header, columns, and Add to cart answering by the button', async ({ page, javaScriptEnabled }, testInfo) => {
      await page.goto('/');
      await ready(page, javaScriptEnabled);
      await fitsTheWindow(page);
      const header = await page.locator('header.site-header').boundingBox();
      const cards = page.locator('article.product-card');
      const first = (await cards.nth(0).boundingBox())!;
      const second = (await cards.nth(1).boundingBox())!;
      if (phone) {
        expect(header!.height, 'a short header on a phone').toBeLessThanOrEqual(110);
        expect(second.y, 'two columns on a phone').toBe(first.y);
        // The links fold behind Menu, a real disclosure that works with JavaScript off too.
        const orders = page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Log in' });
        await expect(orders).toBeHidden();
        await page.locator('.menu-toggle summary').click();
        await expect(orders).toBeVisible();
        await expect(page.getByLabel('Currency')).toBeVisible();
        await fitsTheWindow(page);
        await page.locator('.menu-toggle summary').click();
        await expect(orders).toBeHidden();
      } else {
        await expect(page.locator('.menu-toggle')).toBeHidden();
        await expect(page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Log in' })).toBeVisible();
      }
      await expect(page.getByRole('note')).toContainText('Test mode: no real money is taken');
      await audit(page, javaScriptEnabled);
      await shot(page, 'catalogue', `${size.name}-${testInfo.project.name}`);

      const mug = card(page, 'Ceramic Mug');
      const before = (await mug.boundingBox())!;
      await mug.getByRole('button', { name: 'Add to cart' }).click();
      const note = mug.getByRole('status');
      await expect(note).toContainText('Added Ceramic Mug to your cart.');
      await expect(note.getByRole('link', { name: 'View cart' })).toBeVisible();
      await expect(note.getByRole('link', { name: 'Checkout' })).toBeVisible();
      await expect(page.getByRole('link', { name: /Cart/ }).first()).toContainText('(1)');
      if (javaScriptEnabled) {
        // In place: the focus stays on the button and nothing on the page moves.
        expect(await page.evaluate(() => document.activeElement?.textContent?.trim())).toBe('Add to cart');
        expect((await mug.boundingBox())!.y).toBe(before.y);
      } else {
        // Back on the same product.
        await expect(page).toHaveURL(/\/\?added=\d+#product-\d+$/);
        await expect(mug).toBeInViewport();
      }
      await audit(page, javaScriptEnabled);
      await shot(page, 'added-to-cart', `${size.name}-${testInfo.project.name}`);
      await note.getByRole('link', { name: 'View cart' }).click();
      await expect(page.getByRole('heading', { name: 'Cart', level: 1 })).toBeVisible();
      await fitsTheWindow(page);
      await audit(page, javaScriptEnabled);
      await shot(page, 'cart', `${size.name}-${testInfo.project.name}`);
    });

    test('a refused checkout keeps what was typed; leaving the provider offers Resume payment and Back to cart', async ({ page, javaScriptEnabled }, testInfo) => {
      await page.goto('/');
      await ready(page, javaScriptEnabled);
      await card(page, 'Canvas Tote Bag').getByRole('button', { name: 'Add to cart' }).click();
      await expect(page.getByRole('link', { name: /Cart/ }).first()).not.toContainText('(0)');
      await page.goto('/checkout');
      await expect(page.getByRole('heading', { name: 'Checkout', level: 1 })).toBeVisible();
      await fitsTheWindow(page);
      await expect(page.getByRole('button', { name: 'Pay $18.00' })).toBeVisible();
      const methods = page.getByRole('group', { name: 'Payment method' });
      await expect(methods.getByRole('radio', { name: 'Card (Stripe)' })).toBeChecked();
      await expect(methods.getByRole('radio', { name: 'PayPal' })).toBeVisible();
      if (!phone) {
        // The summary beside the form.
        const summary = (await page.locator('.checkout-summary').boundingBox())!;
        const form = (await page.locator('form.payment-form').boundingBox())!;
        expect(summary.x).toBeGreaterThan(form.x + form.width - 1);
      }
      await audit(page, javaScriptEnabled);
      await shot(page, 'checkout', `${size.name}-${testInfo.project.name}`);

      // Values the browser accepts but the shop refuses.
      await page.getByLabel('Email').fill('rahim@example');
      await page.getByLabel('Name').fill('Rahim Uddin');
      await page.getByLabel('Address').fill('House 12, Road 5');
      await page.getByLabel('City').fill('Dhaka');
      await page.getByLabel('Postcode').fill('1207');
      await page.getByLabel('Country').selectOption('Bangladesh');
      await page.getByLabel('Phone (optional)').fill('call me');
      await page.getByRole('button', { name: 'Pay $18.00' }).click();
      await expect(page.getByRole('alert').first()).toHaveText('Please correct the 2 fields marked below.');
      await expect(page.getByLabel('Name')).toHaveValue('Rahim Uddin');
      await expect(page.getByLabel('Country')).toHaveValue('Bangladesh');
      await expect(page.getByLabel('Email')).toHaveValue('rahim@example');
      await expect(page.getByLabel('Email')).toHaveAttribute('aria-invalid', 'true');
      await expect(page.getByLabel('Email')).toBeFocused();
      await expect(page.getByLabel('Phone (optional)')).toHaveAccessibleDescription(/digits, spaces/);
      await expect(page.getByLabel('City')).not.toHaveAttribute('aria-invalid', 'true');
      await audit(page, javaScriptEnabled);
      await shot(page, 'checkout-refused', `${size.name}-${testInfo.project.name}`);

      await page.getByLabel('Email').fill('rahim@example.com');
      await page.getByLabel('Phone (optional)').fill('+880 1700 000000');
      await page.getByRole('button', { name: 'Pay $18.00' }).click();
      await expect(page.getByRole('heading', { name: 'Stripe sandbox checkout' })).toBeVisible();
      const stripePage = page.url();
      await page.getByRole('button', { name: 'Cancel' }).click();
      await expect(page).toHaveURL(/\/orders\/ORD-\d+\?left=1$/);
      await expect(page.getByText('You left the payment page before paying. Nothing has been charged.')).toBeVisible();
      await expect(page.getByTestId('order-status')).toHaveText('Awaiting payment');
      await fitsTheWindow(page);
      await audit(page, javaScriptEnabled);
      await shot(page, 'order-left', `${size.name}-${testInfo.project.name}`);

      // Resume payment: the same payment page again.
      await page.getByRole('link', { name: 'Resume payment' }).click();
      await expect(page).toHaveURL(stripePage);
      await page.getByRole('button', { name: 'Cancel' }).click();
      // Back to cart: the line is back, the checkout filled in.
      await page.getByRole('button', { name: 'Back to cart' }).click();
      await expect(page).toHaveURL(/\/cart$/);
      await expect(page.getByRole('row').filter({ hasText: 'Canvas Tote Bag' })).toBeVisible();
      await page.getByRole('button', { name: 'Checkout' }).click();
      await expect(page.getByLabel('Name')).toHaveValue('Rahim Uddin');
      await expect(page.getByLabel('Email')).toHaveValue('rahim@example.com');
      await expect(page.getByLabel('Country')).toHaveValue('Bangladesh');
    });

    test('a refused log-in keeps the email and marks the password', async ({ page, javaScriptEnabled }) => {
      await page.goto('/login');
      await ready(page, javaScriptEnabled);
      await page.getByLabel('Email').fill('nobody@example.com');
      await page.getByLabel('Password').fill('not-the-password');
      await page.getByRole('button', { name: 'Log in' }).click();
      await expect(page.getByLabel('Email')).toHaveValue('nobody@example.com');
      await expect(page.getByLabel('Password')).toHaveValue('');
      await expect(page.getByLabel('Password')).toHaveAttribute('aria-invalid', 'true');
      await expect(page.getByLabel('Password')).toBeFocused();
      await expect(page.getByLabel('Password')).toHaveAccessibleDescription('Email or password is incorrect.');
      await fitsTheWindow(page);
      await audit(page, javaScriptEnabled);
    });

    test('the merchant pages fit and read like a dashboard', async ({ page, javaScriptEnabled }, testInfo) => {
      await logInAsMerchant(page);
      for (const path of ['/admin/orders', '/admin/products', '/account/orders']) {
        await page.goto(path);
        await ready(page, javaScriptEnabled);
        await fitsTheWindow(page);
        await audit(page, javaScriptEnabled);
      }
      await page.goto('/admin/orders');
      // The figures for screen readers are folded for everyone else; the totals say what they count.
      await expect(page.getByTestId('sales-figures')).toBeHidden();
      await expect(page.getByRole('heading', { name: 'Totals of the orders listed' }).or(page.getByText('No orders match'))).toBeVisible();
      await shot(page, 'admin-orders', `${size.name}-${testInfo.project.name}`);
      await page.goto('/admin/products');
      await shot(page, 'admin-products', `${size.name}-${testInfo.project.name}`);
    });
  });
}

test('every status has a badge of its own', async ({ page }) => {
  await page.goto('/');
  const looks = await page.evaluate(() => {
    const statuses = ['awaiting_payment', 'paid', 'failed', 'cancelled', 'expired', 'needs_review', 'partially_refunded', 'refunded'];
    return statuses.map((s) => {
      const span = document.createElement('span');
      span.className = `badge badge-${s}`;
      span.textContent = s;
      document.body.append(span);
      const style = getComputedStyle(span);
      const mark = getComputedStyle(span, '::before').content;
      return `${style.backgroundColor}|${style.color}|${mark}`;
    });
  });
  expect(new Set(looks).size, looks.join('\n')).toBe(8);
});

test('JavaScript off downloads no WebAssembly; on, it loads brotli-compressed', async ({ page, javaScriptEnabled, request }) => {
  const fetched: string[] = [];
  page.on('request', (r) => fetched.push(r.url()));
  await page.goto('/');
  await expect(page.getByRole('heading', { name: 'Shop', level: 1 })).toBeVisible();
  if (javaScriptEnabled) {
    await ready(page, javaScriptEnabled);
    const wasm = fetched.find((u) => u.endsWith('.wasm'));
    expect(wasm, fetched.join('\n')).toBeDefined();
    const response = await request.get(wasm!, { headers: { 'Accept-Encoding': 'br, gzip' } });
    expect(response.headers()['content-encoding']).toBe('br');
  } else {
    await page.waitForLoadState('networkidle');
    expect(fetched.filter((u) => /\/pkg\/.*\.(wasm|js)$/.test(u)), fetched.join('\n')).toEqual([]);
  }
});

test('the taka and yen signs come from a font that has them', async ({ page, javaScriptEnabled }) => {
  test.skip(!javaScriptEnabled, 'the page\'s fonts are read by a script');
  await page.goto('/');
  await page.getByLabel('Currency').selectOption('BDT');
  if (await page.getByRole('button', { name: 'Change' }).isVisible()) {
    await page.getByRole('button', { name: 'Change' }).click();
  }
  await expect(page.locator('.price').first()).toContainText('৳');
  const loaded = await page.evaluate(async () => {
    await document.fonts.ready;
    return [...document.fonts]
      .filter((f) => f.family.replace(/"/g, '') === 'Storefront Currency' && f.status === 'loaded')
      .map((f) => f.unicodeRange);
  });
  expect(loaded.join(' ')).toContain('U+9F3');
});

test.describe('at 360 px, the narrowest phone', () => {
  test.use({ viewport: { width: 360, height: 740 } });

  test('no page scrolls sideways', async ({ page }) => {
    const pages = ['/', '/products/ceramic-mug', '/login', '/register', '/account/orders'];
    for (const path of pages) {
      await page.goto(path);
      await fitsTheWindow(page);
    }
    await page.goto('/');
    await card(page, 'Ceramic Mug').getByRole('button', { name: 'Add to cart' }).click();
    await expect(page.getByRole('link', { name: /Cart/ }).first()).not.toContainText('(0)');
    for (const path of ['/cart', '/checkout']) {
      await page.goto(path);
      await fitsTheWindow(page);
    }
    await logInAsMerchant(page);
    for (const path of ['/admin/orders', '/admin/products', '/account/orders']) {
      await page.goto(path);
      await fitsTheWindow(page);
    }
    // An order's merchant page, with its attempts, emails and timeline, when the run has one.
    await page.goto('/admin/orders');
    const first = page.locator('table.order-list th[scope="row"] a').first();
    if (await first.count()) {
      await first.click();
      await expect(page.getByRole('heading', { name: /^Order ORD-/, level: 1 })).toBeVisible();
      await fitsTheWindow(page);
      // Its customer's order page too.
      const reference = (await page.getByRole('heading', { level: 1 }).innerText()).replace('Order ', '');
      await page.goto(`/orders/${reference}`);
      await fitsTheWindow(page);
    }
  });
});
