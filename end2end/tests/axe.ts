import { expect, Page } from '@playwright/test';
import { readFileSync } from 'fs';
import { join } from 'path';

const axeSource = readFileSync(join(__dirname, '..', 'node_modules', 'axe-core', 'axe.min.js'), 'utf8');

/** Run axe-core on the page as it is and expect no violations. Only with JavaScript on: axe needs
 * timers, which a page with scripts off does not run. The markup is the same server render. */
export async function audit(page: Page, javaScriptEnabled: boolean | undefined) {
  if (!javaScriptEnabled) return;
  // Evaluated by the test driver, not added as an inline <script>: the shop's Content Security
  // Policy (rightly) refuses inline scripts without its nonce or hash.
  await page.evaluate(`${axeSource}\n;undefined`);
  const violations = await page.evaluate(async () => {
    const result = await (window as any).axe.run(document);
    return result.violations.map(
      (v: any) => `${v.id}: ${v.help} (${v.nodes.map((n: any) => n.target.join(' ')).join(', ')})`,
    );
  });
  expect(violations, 'axe-core violations').toEqual([]);
}
