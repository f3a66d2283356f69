/** The package version, read once at load so the User-Agent and --version agree. */
import { readFileSync } from 'node:fs';

function readVersion(): string {
  // dist/core/version.js -> ../../package.json
  const text = readFileSync(new URL('../../package.json', import.meta.url), 'utf8');
  return (JSON.parse(text) as { version: string }).version;
}

export const VERSION = readVersion();
export const USER_AGENT = `pprofcol/${VERSION}`;
