// How a TypeScript chat app uses the package's declarations. Compiled with --strict by
// types.test.mjs; every @ts-expect-error line must be an error, or tsc fails (TS2578).
import init, { OfflineMessenger, buildOfflineMessageEnvelope, isOfflineImError } from "../../../pkg/offline_im.js";
import type { MessengerConfig, OfflineImErrorCode } from "../../../pkg/offline_im.js";

// MessengerConfig describes everything open() accepts, the two functions included.
export const viaProxy: MessengerConfig = {
  ewsUrl: "/EWS/Exchange.asmx",
  sender: { emailAddress: "tony@contoso.com" },
  transport: async (request) => ({ status: 200, body: request.url }),
  getAccessToken: async () => "token",
};
// @ts-expect-error: getAccessToken is a function resolving the token, not the token
export const tokenNotFunction: MessengerConfig = { sender: { emailAddress: "tony@contoso.com" }, getAccessToken: "token" };

export async function app(token: () => Promise<string>) {
  await init();
  const im = await OfflineMessenger.open({ backend: "graph", sender: { emailAddress: "tony@contoso.com" }, getAccessToken: token });
  im.addEventListener("retrying", (e) => {
    const at: number = e.detail.nextAttemptAt;
    const code: string = e.detail.code;
    const id: string = e.detail.record.id;
    return [at, code, id];
  });
  im.addEventListener("failed", (e) => { const permanent: boolean = e.detail.permanent; return permanent; });
  im.addEventListener("authrequired", (e) => e.detail.httpStatus + e.detail.nextAttemptAt);
  im.addEventListener("error", (e) => { const code: string = e.detail.code; return code; });
  // @ts-expect-error: no such event (misspelt)
  im.addEventListener("deliverd", () => {});
  // @ts-expect-error: a retrying event has no `permanent`
  im.addEventListener("retrying", (e) => e.detail.permanent);
  // @ts-expect-error: a listener, not a string
  im.addEventListener("queued", "not a function");
  // EventTarget's listener options: hear one event, or until a signal aborts.
  const stop = new AbortController();
  const first = (e: CustomEvent<{ record: { id: string } }>) => e.detail.record.id;
  im.addEventListener("delivered", first, { once: true, signal: stop.signal });
  im.removeEventListener("delivered", first, { capture: false });
  // @ts-expect-error: `once` is a boolean
  im.addEventListener("delivered", first, { once: "yes" });
  const report = await im.checkMissed();
  const n: number = report.total;
  // `options` may be omitted (README's stateless-functions example calls it so; TS2554 before).
  const { xml } = buildOfflineMessageEnvelope({ id: "m1", to: { emailAddress: "ana@contoso.com" }, text: "hi" });
  // @ts-expect-error: the message is required
  buildOfflineMessageEnvelope();
  // A caught value is `unknown`; the guard narrows it to OfflineImError.
  try {
    await im.retry("no-such-id");
  } catch (e) {
    // @ts-expect-error: `code` is not known on `unknown`
    e.code;
    if (isOfflineImError(e)) {
      const code: OfflineImErrorCode = e.code;
      return n + xml.length + code.length;
    }
  }
  return n + xml.length;
}
