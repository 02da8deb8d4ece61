import react from '@vitejs/plugin-react';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const root = fileURLToPath(new URL('../..', import.meta.url));

// Built into the repository's dist/dashboard, which the API serves at /ui/ (apps/api/src/dashboard).
// `npm run dev:ui` serves it with hot reload and proxies the API (XRAY_API_URL, default :3000).
export default defineConfig({
  base: '/ui/',
  plugins: [react()],
  build: {
    outDir: `${root}dist/dashboard`,
    emptyOutDir: true,
    target: 'es2022',
    chunkSizeWarningLimit: 600,
    // No inline data: URIs for assets: the API's CSP for /ui allows only same-origin files.
    assetsInlineLimit: 0,
  },
  server: {
    port: 5173,
    proxy: Object.fromEntries(['/v1', '/health'].map((p) => [p, { target: process.env.XRAY_API_URL ?? 'http://localhost:3000', changeOrigin: true }])),
  },
  test: {
    include: ['src/**/*.test.ts'],
    environment: 'node',
  },
});
