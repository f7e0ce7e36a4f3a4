import { fileURLToPath } from 'node:url';
import { dirname, resolve } from 'node:path';

/**
 * Repository root. Compiled helpers live in dist/test/helpers/, so the root is three levels up
 * from this file's directory (dist/test/helpers -> dist/test -> dist -> root).
 */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** Python/other non-TS helper scripts are read from the source tree, not from dist/. */
export const CLIENT_SCRIPTS_DIR = resolve(REPO_ROOT, 'test', 'interop', 'clients');

export const BROKER_ENTRY = resolve(REPO_ROOT, 'dist', 'src', 'cli', 'main.js');
