import { defineConfig } from "vite";

// Exchange answers no CORS preflight, so the page reaches EWS through a same-origin reverse
// proxy: here Vite's own, in `vite dev` and `vite preview` alike, to EWS_ORIGIN (the project's
// local Exchange test server by default; in production, your web server's proxy to Exchange).
const ews = process.env.EWS_ORIGIN ?? "http://127.0.0.1:8787";

export default defineConfig({
  // No optimizeDeps.exclude needed: src/main.ts hands init() the .wasm's URL (`?url`), which
  // stays right when `vite dev` pre-bundles offline-im's JS into node_modules/.vite.
  server: { proxy: { "/EWS": ews } },
  preview: { proxy: { "/EWS": ews } },
  build: { target: "es2022" },
});
