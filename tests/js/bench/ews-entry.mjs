// ews-javascript-api for the browser: pkg-scripts/bench bundles this (esbuild, browser platform,
// minified) into target/bench/ews.js; its size is the peer's browser bundle size. The library is
// CommonJS, so its namespace is re-exported as the default export.
import * as api from "ews-javascript-api";
export default api;
