import { expect, Page } from '@playwright/test';

// The run's merchant (ADMIN_EMAIL / ADMIN_PASSWORD in playwright.config.ts). Every spec that logs
// in as the merchant shares this account, and with it the account's saved cart.
export async function logInAsMerchant(page: Page) {
  await page.goto('/login');
  await page.getByLabel('Email').fill('merchant@example.com');
  await page.getByLabel('Password').fill('merchant-password-1');
  await page.getByRole('button', { name: 'Log in' }).click();
  await expect(page.getByText('(merchant)')).toBeAttached();
}
