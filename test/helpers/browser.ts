/**
 * Debian's chromium driven by playwright-core (no browser download), as the dashboard and OAuth
 * consent tests use it. Undefined where chromium is not installed: those tests are `itWith`-gated.
 */
import { chromium, type Browser } from 'playwright-core';
import { hasCommand } from './system-tools.ts';

/** Resolve every host name to nothing but loopback: a page cannot reach the internet by accident. */
export const LOOPBACK_ONLY = '--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1, EXCLUDE localhost';

export async function launchChromium(extraArgs: readonly string[] = []): Promise<Browser | undefined> {
  if (!hasCommand('chromium')) return undefined;
  return chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', ...extraArgs] });
}
