// Vite build of the debugger UI: `npm run build:ui` (or automatically on
// the first `iorewind debug`) writes dist/ui/debug, which the debugger's
// own HTTP server serves next to its JSON API.
import { defineConfig } from 'vite';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root: here,
  base: './',
  logLevel: 'warn',
  build: {
    outDir: fileURLToPath(new URL('../../dist/ui/debug', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: true,
  },
});
