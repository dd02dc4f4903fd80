/** For tests that drive a headless Chromium (playwright-core launches the system browser). */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { useBackend } from './setup.js';

export const CHROMIUM = '/usr/bin/chromium';

/**
 * Skips the test when Chromium is not installed (returns null); else sets up the TF.js backend and
 * returns a fresh temp folder that is removed when the test ends.
 */
export async function chromiumWorkDir(t: { skip: (why: string) => void; after: (fn: () => void) => void }, prefix: string): Promise<string | null> {
  if (!existsSync(CHROMIUM)) {
    t.skip(`${CHROMIUM} not found; to run this test: apt-get install chromium`);
    return null;
  }
  await useBackend();
  const d = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

/** Launches headless Chromium, offline-minded (no QUIC, no background networking), with `extraArgs`. */
export async function launchChromium(extraArgs: string[] = []): Promise<import('playwright-core').Browser> {
  const { chromium } = await import('playwright-core');
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', ...extraArgs],
  });
}
