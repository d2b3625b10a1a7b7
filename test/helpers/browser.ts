import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';
import { skipOutsideCi } from './ci.js';

/** Debian's Chromium, driven by playwright-core: no browser is ever downloaded. */
const CHROMIUM = '/usr/bin/chromium';
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/**
 * True when the browser tests must be skipped. CI installs Chromium (.ci/run): there a missing
 * browser fails the run; elsewhere the run ends with a notice that they were skipped.
 */
export function browserMissing(): boolean {
  return skipOutsideCi(
    'the dashboard browser tests',
    existsSync(CHROMIUM) ? null : `${CHROMIUM} is missing (apt-get install chromium)`,
  );
}

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: FLAGS });
}
