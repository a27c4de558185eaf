/** Shared inputs of the debugger tests. */
import { fileURLToPath } from 'node:url';

export const SAMPLE = fileURLToPath(new URL('../../../traces/selftest-mock-domain.iort', import.meta.url));
export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
