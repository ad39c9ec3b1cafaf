import { defineConfig } from '@playwright/test';

// The shop under test: the release build made by `cargo leptos build --release`, started on a fresh
// SQLite file for every run. Browsers: Debian's chromium, never a downloaded one.
const port = Number(process.env.E2E_PORT ?? 3100);
const baseURL = `http://127.0.0.1:${port}`;
const dataDir = process.env.E2E_DATA_DIR ?? '../target/e2e-data';

export default defineConfig({
  testDir: './tests',
  timeout: 30_000,
  expect: { timeout: 10_000 },
  fullyParallel: true,
  workers: 2,
  retries: 0,
  reporter: [['list']],
  use: {
    baseURL,
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--no-first-run',
        '--disable-sync',
      ],
    },
  },
  projects: [
    { name: 'javascript-on', use: { javaScriptEnabled: true } },
    { name: 'javascript-off', use: { javaScriptEnabled: false } },
  ],
  webServer: {
    command: `rm -rf ${dataDir} && mkdir -p ${dataDir} && ../target/release/storefront`,
    cwd: '.',
    url: `${baseURL}/healthz`,
    timeout: 60_000,
    reuseExistingServer: false,
    stdout: 'pipe',
    env: {
      DATABASE_URL: `sqlite://${dataDir}/shop.db`,
      LEPTOS_SITE_ADDR: `127.0.0.1:${port}`,
      LEPTOS_SITE_ROOT: '../target/site',
      RUST_LOG: 'warn',
      ADMIN_EMAIL: 'merchant@example.com',
      ADMIN_PASSWORD: 'merchant-password-1',
      // Every browser of the run is one client address (127.0.0.1) placing orders it leaves unpaid
      // (cancelled, abandoned) on purpose: the per-address cap is for strangers, not this run.
      MAX_OPEN_ORDERS_PER_ADDRESS: '10000',
      MEDIA_DIR: `${dataDir}/media`,
    },
  },
});
