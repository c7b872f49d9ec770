// workbox-background-sync's Queue, bundled by pkg-scripts/bench into target/bench/workbox.js.
export { Queue } from "workbox-background-sync";
