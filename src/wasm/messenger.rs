//! `OfflineMessenger`: the engine a chat UI uses. IndexedDB spool, fetch (or a custom transport),
//! the two-minute timer (gloo-timers), the `online` event, and Web Locks so that only one tab
//! sends at a time (the lease in each record is the fallback where Web Locks are missing).

use super::error::to_js as error_to_js;
use super::idb::IdbStore;
use super::objects::Receipts;
use super::transport::JsTransport;
use super::{config_from_js, from_js, from_js_counted, to_js};
use crate::error::Error;
use crate::backend::Backend;
use crate::mailbox::Mailbox;
use crate::messenger::{plan_send, CheckMissedOptions, MessengerConfig, Plan, ReceiptState, RecordMissedInput, Resolved, SendInput, SendReceipt};
use crate::spool::schedule::next_wakeup;
use crate::spool::{Clock, Spool, SpoolEvent, SpoolStore, State};
use futures_util::future::{AbortHandle, Abortable};
use gloo_timers::callback::Timeout;
use js_sys::{Function, Object, Promise, Reflect};
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::{Rc, Weak};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::{future_to_promise, spawn_local, JsFuture};
use web_sys::{CustomEvent, CustomEventInit, EventTarget};

/// Keep delivered records this long (ms) so a repeated `send` of the same id is recognised.
const KEEP_DELIVERED_MS: u64 = 7 * 24 * 3_600_000;

struct JsClock;
impl Clock for JsClock {
    fn now_ms(&self) -> u64 {
        js_sys::Date::now() as u64
    }
}

/// A new message id: `crypto.randomUUID()` (MDN: secure contexts only); elsewhere time and
/// `Math.random`, unique enough for one user's spool.
fn random_id() -> String {
    random_uuid().unwrap_or_else(|_| format!("{:x}-{:x}", js_sys::Date::now() as u64, (js_sys::Math::random() * 1e15) as u64))
}

#[wasm_bindgen]
extern "C" {
    /// Throws (caught) where `crypto.randomUUID` is missing (an insecure context).
    #[wasm_bindgen(js_namespace = crypto, js_name = randomUUID, catch)]
    fn random_uuid() -> Result<String, JsValue>;
}

#[wasm_bindgen(module = "/src/wasm/shell.js")]
extern "C" {
    /// `target.addEventListener(kind, listener, options)`: EventTarget's options as given.
    #[wasm_bindgen(catch)]
    fn listen(target: &EventTarget, kind: &str, listener: &Function, options: &JsValue) -> Result<(), JsValue>;
    /// `target.removeEventListener(kind, listener, options)`.
    #[wasm_bindgen(catch)]
    fn unlisten(target: &EventTarget, kind: &str, listener: &Function, options: &JsValue) -> Result<(), JsValue>;
}

struct Inner {
    spool: Spool<IdbStore, Backend>,
    config: Resolved,
    transport: JsTransport,
    events: EventTarget,
    /// Event names that ever had a listener: events nobody listens for are not built (their
    /// `detail` is a serialized record). Never shrinks, so a removed listener costs only speed.
    subscribed: RefCell<Vec<String>>,
    closed: Cell<bool>,
    running: Cell<bool>,
    again: Cell<bool>,
    timer: RefCell<Option<Timeout>>,
    receipts: Receipts,
    online: RefCell<Option<Closure<dyn FnMut()>>>,
    /// Ends the processing round under way (`close()`).
    round: RefCell<Option<AbortHandle>>,
    /// How many of this sender's records were in the spool at the last look (for the
    /// `SpoolDeleted` error event).
    known: Cell<usize>,
}

impl Inner {
    fn dispatch(&self, name: &str, detail: &JsValue) {
        let init = CustomEventInit::new();
        init.set_detail(detail);
        if let Ok(event) = CustomEvent::new_with_event_init_dict(name, &init) {
            let _ = self.events.dispatch_event(&event);
        }
    }

    fn emit(&self, e: SpoolEvent) {
        if !self.subscribed.borrow().iter().any(|n| n == e.name()) {
            return;
        }
        let detail = to_js(&e.detail()).unwrap_or(JsValue::NULL);
        self.dispatch(e.name(), &detail);
    }

    /// One round; every await in it is bounded (token, transport, IndexedDB), and `close()`
    /// ends it at once (its Web Lock is then released).
    async fn process(&self) -> Result<usize, JsValue> {
        if self.closed.get() {
            return Ok(0);
        }
        let (handle, registration) = AbortHandle::new_pair();
        *self.round.borrow_mut() = Some(handle);
        let round = Abortable::new(self.spool.process_due(&self.transport, &JsClock, &|e| self.emit(e)), registration).await;
        self.round.borrow_mut().take();
        match round {
            Ok(r) => r.map_err(|e| error_to_js(&e)),
            Err(_aborted) => Ok(0),
        }
    }

    /// Gives back the messages this instance claimed but did not settle (a round ended by
    /// `close()`): queued and due now, so a reopened messenger or another tab sends them without
    /// waiting for the lease to run out. The request may have reached the server; the
    /// recipient side de-duplicates by message id.
    async fn release_claims(&self) {
        let (owner, now) = (self.spool.config.owner.clone(), JsClock.now_ms());
        let Ok(records) = self.spool.store.all(self.spool.sender()).await else { return };
        for r in records.iter().filter(|r| r.state == State::Sending && r.lease_owner.as_deref() == Some(owner.as_str())) {
            let _ = self
                .spool
                .store
                .update(&r.id, &mut |x| {
                    let ours = x.state == State::Sending && x.lease_owner.as_deref() == Some(owner.as_str());
                    if ours {
                        x.state = State::Queued;
                        x.attempts = x.attempts.saturating_sub(1);
                        x.lease_owner = None;
                        x.lease_until = 0;
                        x.next_attempt_at = now;
                    }
                    ours
                })
                .await;
        }
    }

    /// One processing round under the Web Lock `offline-im:<dbName>` (ifAvailable: another tab
    /// that holds it is sending; this one skips the round).
    async fn process_locked(self: &Rc<Self>) -> Result<(), JsValue> {
        let navigator = Reflect::get(&js_sys::global(), &"navigator".into())?;
        let locks = Reflect::get(&navigator, &"locks".into()).unwrap_or(JsValue::UNDEFINED);
        let request = Reflect::get(&locks, &"request".into()).ok().and_then(|f| f.dyn_into::<Function>().ok());
        let Some(request) = request.filter(|_| !locks.is_undefined()) else {
            return self.process().await.map(drop);
        };
        let me = self.clone();
        let callback = Closure::once_into_js(move |lock: JsValue| -> JsValue {
            if lock.is_null() {
                return JsValue::FALSE;
            }
            promise(async move { me.process().await.map(|_| JsValue::TRUE) }).into()
        });
        let options: JsValue = Object::new().into();
        Reflect::set(&options, &"ifAvailable".into(), &JsValue::TRUE)?;
        let name = JsValue::from_str(&["offline-im:", &self.config.db_name].concat());
        let promise: Promise = request.call3(&locks, &name, &options, &callback)?.dyn_into()?;
        JsFuture::from(promise).await.map(drop)
    }

    /// Processes until nothing new arrived meanwhile, then arms the timer. `running` is set
    /// here, before the returned future first runs: kicks in the same tick (1000 concurrent
    /// sends) then start one round, not one Web Lock request each.
    fn run(self: Rc<Self>) -> impl Future<Output = ()> {
        self.running.set(true);
        async move {
            loop {
                self.again.set(false);
                if let Err(e) = self.process_locked().await {
                    self.dispatch("error", &e);
                }
                if !self.again.get() || self.closed.get() {
                    break;
                }
            }
            self.running.set(false);
            self.arm_timer().await;
        }
    }

    /// Next tick: when the next message becomes due, and at least every retry interval (so a tab
    /// takes over when the one holding the lock closes).
    async fn arm_timer(self: &Rc<Self>) {
        if self.closed.get() {
            return;
        }
        let interval = self.config.spool.retry.retry_interval_ms;
        let now = JsClock.now_ms();
        let wake = match self.spool.store.all(self.spool.sender()).await {
            Ok(records) => {
                self.known.set(records.len());
                next_wakeup(&records, now, &self.config.spool.retry).map_or(interval, |t| t.saturating_sub(now).min(interval))
            }
            Err(_) => interval,
        };
        let weak: Weak<Inner> = Rc::downgrade(self);
        let delay = wake.clamp(10, u64::from(u32::MAX)) as u32;
        *self.timer.borrow_mut() = Some(Timeout::new(delay, move || {
            if let Some(inner) = weak.upgrade() {
                kick(&inner);
            }
        }));
    }
}

fn kick(inner: &Rc<Inner>) {
    if inner.closed.get() {
        return;
    }
    if inner.running.get() {
        inner.again.set(true);
        return;
    }
    spawn_local(inner.clone().run());
}

fn take_fn(config: &JsValue, key: &'static str) -> Result<Option<Function>, JsValue> {
    let v = Reflect::get(config, &key.into())?;
    if v.is_undefined() || v.is_null() {
        return Ok(None);
    }
    v.dyn_into::<Function>().map(Some).map_err(|_| error_to_js(&Error::InvalidConfig { field: key, reason: "must be a function".into() }))
}

/// The events a messenger dispatches: what `addEventListener` accepts.
const EVENTS: [&str; 7] = ["queued", "sending", "delivered", "retrying", "failed", "authrequired", "error"];

/// The promise of an exported method. Every method's future goes through this one type-erased
/// instantiation of `future_to_promise`, instead of a copy of its task and promise plumbing per
/// method (issue 14, size).
fn promise(future: impl Future<Output = Result<JsValue, JsValue>> + 'static) -> Promise {
    let boxed: Pin<Box<dyn Future<Output = Result<JsValue, JsValue>>>> = Box::pin(future);
    future_to_promise(boxed)
}

#[wasm_bindgen(typescript_custom_section)]
const EVENTS_TS: &'static str = r#"
/** `detail` of every spool event: the record as stored after the change. */
export interface SpoolEventDetail { record: SpoolRecord; }
/** The events of an `OfflineMessenger`, by name, with their `detail`. */
export interface OfflineMessengerEventMap {
  queued: CustomEvent<SpoolEventDetail>;
  sending: CustomEvent<SpoolEventDetail>;
  delivered: CustomEvent<SpoolEventDetail & { type: "delivered" }>;
  /** `nextAttemptAt`: ms since the epoch; `code`: EWS ResponseCode, Graph error code, `Http503`, `NetworkError`, `Timeout`, … */
  retrying: CustomEvent<SpoolEventDetail & { type: "retrying"; nextAttemptAt: number; code: string; message: string }>;
  /** The message stays in the spool (`pending()`); `permanent`: retrying cannot help. */
  failed: CustomEvent<SpoolEventDetail & { type: "failed"; code: string; message: string; permanent: boolean }>;
  /** `code`: the cause (`Http401`, `InvalidAuthenticationToken`, `Redirect`, `TokenUnavailable`, …). */
  authrequired: CustomEvent<SpoolEventDetail & { type: "authRequired"; httpStatus: number; nextAttemptAt: number; code: string; message: string }>;
  /** A round failed, or another tab deleted the database (`SpoolDeleted`). */
  error: CustomEvent<OfflineImError>;
}
export interface OfflineMessenger {
  /**
   * Listens for one of the events of `OfflineMessengerEventMap`; the listener gets that event's
   * `CustomEvent` with its `detail`. Throws `OfflineImError` `InvalidInput` for another name
   * (`field` "kind"), so a misspelt event is never silently not dispatched, or when the listener
   * is not a function (`field` "listener"). `options` as EventTarget's: `{ once: true }` hears
   * one event; `{ signal }` removes the listener when the signal aborts.
   */
  addEventListener<K extends keyof OfflineMessengerEventMap>(kind: K, listener: (event: OfflineMessengerEventMap[K]) => void, options?: boolean | AddEventListenerOptions): void;
  /** Stops a listener added with `addEventListener`; throws as it does. */
  removeEventListener<K extends keyof OfflineMessengerEventMap>(kind: K, listener: (event: OfflineMessengerEventMap[K]) => void, options?: boolean | EventListenerOptions): void;
}
"#;

fn check_listener(kind: &str, listener: &JsValue) -> Result<(), JsValue> {
    if !EVENTS.contains(&kind) {
        return Err(error_to_js(&Error::InvalidInput { field: "kind", reason: format!("{} is not an event of OfflineMessenger ({})", crate::error::shown(kind), EVENTS.join(", ")) }));
    }
    if !listener.is_function() {
        return Err(error_to_js(&Error::InvalidInput { field: "listener", reason: "must be a function".into() }));
    }
    Ok(())
}

/// Offline messaging for one signed-in user. See the README for a full example.
#[wasm_bindgen]
pub struct OfflineMessenger {
    inner: Rc<Inner>,
}

impl OfflineMessenger {
    /// [`OfflineMessenger::open`] for Rust callers (the browser tests): the messenger itself,
    /// or the `OfflineImError` the promise would reject with.
    pub async fn open_async(config: JsValue) -> Result<OfflineMessenger, JsValue> {
        if !config.is_object() {
            return Err(super::error::at_path("InvalidConfig", "config", "", "must be an object"));
        }
        let custom = take_fn(&config, "transport")?;
        let get_access_token = take_fn(&config, "getAccessToken")?;
        let plain: Object = Object::assign(&Object::new(), config.unchecked_ref());
        Reflect::delete_property(&plain, &"transport".into())?;
        Reflect::delete_property(&plain, &"getAccessToken".into())?;
        let plain: JsValue = plain.into();
        let parsed: MessengerConfig = config_from_js(plain)?;
        let resolved = parsed.resolve(&random_id()).map_err(|e| error_to_js(&e))?;
        let store = IdbStore::open(&resolved.db_name).await.map_err(|e| error_to_js(&e))?;
        let transport = JsTransport {
            url: resolved.url.clone(),
            custom,
            get_access_token,
            timeout_ms: resolved.request_timeout_ms,
            token_timeout_ms: resolved.token_timeout_ms,
        };
        let spool = Spool::new(store, resolved.spool.clone());
        spool.prune(JsClock.now_ms(), KEEP_DELIVERED_MS).await.map_err(|e| error_to_js(&e))?;
        let inner = Rc::new(Inner {
            spool,
            config: resolved,
            transport,
            events: EventTarget::new()?,
            subscribed: RefCell::default(),
            closed: Cell::new(false),
            running: Cell::new(false),
            again: Cell::new(false),
            timer: RefCell::new(None),
            receipts: Receipts::default(),
            online: RefCell::new(None),
            round: RefCell::new(None),
            known: Cell::new(0),
        });
        // Another tab deleted the database: say so (with what was lost), and carry on with a
        // fresh one (the store reopens at its next operation).
        let weak = Rc::downgrade(&inner);
        inner.spool.store.on_deleted(move || {
            if let Some(inner) = weak.upgrade() {
                let lost = Error::SpoolDeleted { name: inner.config.db_name.clone(), records: inner.known.replace(0) };
                inner.dispatch("error", &error_to_js(&lost));
                kick(&inner);
            }
        });
        let weak = Rc::downgrade(&inner);
        // The network is back: what failed for want of a reply goes now, not at its backoff.
        let on_online = Closure::<dyn FnMut()>::new(move || {
            if let Some(inner) = weak.upgrade() {
                spawn_local(async move {
                    if !inner.closed.get() && inner.spool.make_due_after_network_return(JsClock.now_ms()).await.is_ok() {
                        kick(&inner);
                    }
                });
            }
        });
        if let Ok(global) = js_sys::global().dyn_into::<EventTarget>() {
            let _ = global.add_event_listener_with_callback("online", on_online.as_ref().unchecked_ref());
        }
        *inner.online.borrow_mut() = Some(on_online);
        kick(&inner);
        Ok(OfflineMessenger { inner })
    }
}

#[wasm_bindgen]
impl OfflineMessenger {
    /// Opens the spool (IndexedDB `dbName`), validates `config`, and starts processing what is
    /// due. Throws `OfflineImError`: `InvalidConfig`, `InvalidAddress`, `PolicyScriptError`,
    /// `InvalidPolicy`, `DatabaseBlocked`, `StorageError`.
    #[wasm_bindgen(unchecked_return_type = "Promise<OfflineMessenger>")]
    pub fn open(#[wasm_bindgen(unchecked_param_type = "MessengerConfig")] config: JsValue) -> Promise {
        promise(async move { Self::open_async(config).await.map(JsValue::from) })
    }

    /// Evaluates policy and, for an offline recipient, stores the message durably before any
    /// network attempt: the promise resolves after the IndexedDB transaction completed.
    /// Resolves to a `SendReceipt` (`blocked`, `live` or `queued`). Throws `OfflineImError`:
    /// `InvalidInput`, `InvalidAddress`, `MessageTooLarge`, `QuotaExceeded`, `StorageError`,
    /// `MessengerClosed`.
    #[wasm_bindgen(unchecked_return_type = "Promise<SendReceipt>")]
    pub fn send(&self, #[wasm_bindgen(unchecked_param_type = "SendInput")] input: JsValue) -> Promise {
        let inner = self.inner.clone();
        promise(async move {
            if inner.closed.get() {
                return Err(error_to_js(&Error::Closed));
            }
            let (input, replaced): (SendInput, u32) = from_js_counted("input", input)?;
            let plan = plan_send(&inner.config, input, random_id).map_err(|e| error_to_js(&e))?;
            let receipt = match plan {
                Plan::NotQueued(decision, id) => SendReceipt {
                    id,
                    state: if decision.delivery == crate::policy::Delivery::Blocked { ReceiptState::Blocked } else { ReceiptState::Live },
                    decision,
                    duplicate: false,
                    replaced_characters: replaced,
                },
                Plan::Queue(decision, message) => {
                    let record = inner.spool.new_record(message, JsClock.now_ms()).map_err(|e| error_to_js(&e))?;
                    let (stored, new) = inner.spool.enqueue(record).await.map_err(|e| error_to_js(&e))?;
                    if new {
                        inner.known.set(inner.known.get() + 1);
                        inner.emit(SpoolEvent::Queued(stored.clone()));
                        kick(&inner);
                    }
                    SendReceipt { id: stored.id, state: stored.state.into(), decision, duplicate: !new, replaced_characters: replaced }
                }
            };
            inner.receipts.to_js(receipt)
        })
    }

    /// Messages not yet delivered (queued, sending, failed), oldest first: `Promise<SpoolRecord[]>`.
    #[wasm_bindgen(unchecked_return_type = "Promise<SpoolRecord[]>")]
    pub fn pending(&self) -> Promise {
        let inner = self.inner.clone();
        promise(async move { to_js(&inner.spool.pending().await.map_err(|e| error_to_js(&e))?) })
    }

    /// Makes a queued or failed message due now. Throws `UnknownMessage`, `MessageInFlight`.
    #[wasm_bindgen(unchecked_return_type = "Promise<SpoolRecord>")]
    pub fn retry(&self, id: String) -> Promise {
        let inner = self.inner.clone();
        promise(async move {
            let r = inner.spool.retry(&id, JsClock.now_ms()).await.map_err(|e| error_to_js(&e))?;
            kick(&inner);
            to_js(&r)
        })
    }

    /// Removes a message from the spool. Throws `UnknownMessage`, `MessageInFlight`.
    #[wasm_bindgen(unchecked_return_type = "Promise<SpoolRecord>")]
    pub fn discard(&self, id: String) -> Promise {
        let inner = self.inner.clone();
        promise(async move { to_js(&inner.spool.discard(&id, JsClock.now_ms()).await.map_err(|e| error_to_js(&e))?) })
    }

    /// Processes now: every queued message becomes due (overriding its backoff) and a round runs.
    /// Resolves when that round is over.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn flush(&self) -> Promise {
        let inner = self.inner.clone();
        promise(async move {
            if inner.closed.get() {
                return Err(error_to_js(&Error::Closed));
            }
            inner.spool.request_flush();
            if inner.running.get() {
                // A round is under way: ask for one more (it sees everything made due above) and
                // wait for the rounds to end. Asking only once: asking on every poll would keep
                // a busy spool running rounds forever.
                inner.again.set(true);
                while inner.running.get() {
                    gloo_timers::future::TimeoutFuture::new(10).await;
                }
            } else {
                inner.clone().run().await;
            }
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Unread missed conversations in the user's mailbox (`inbox` and `conversationhistory`, both
    /// `IPM.Note.Microsoft.Missed` and the seed's `IM.Note.MissedConversation`), each message once
    /// (de-duplicated by message id), grouped by sender and conversation. Federated mail is plain
    /// `IPM.Note` and is not listed. EWS: FindItem + GetItem; Graph: message listings (the first
    /// pages in one `$batch`). Throws `AuthRequired`, `EwsError` or `GraphError`.
    #[wasm_bindgen(js_name = checkMissed, unchecked_return_type = "Promise<MissedReport>")]
    pub fn check_missed(&self, #[wasm_bindgen(unchecked_optional_param_type = "CheckMissedOptions")] options: Option<JsValue>) -> Promise {
        let inner = self.inner.clone();
        promise(async move {
            let options: CheckMissedOptions = match options.filter(|o| !o.is_null() && !o.is_undefined()) {
                Some(o) => from_js("options", o)?,
                None => CheckMissedOptions::default(),
            };
            to_js(&inner.spool.config.mailbox.check_missed(&inner.transport, options.since).await.map_err(|e| error_to_js(&e))?)
        })
    }

    /// Marks mailbox items read (EWS UpdateItem IsRead; Graph PATCH isRead, 4 per `$batch`), e.g.
    /// every `itemIds` of the messages shown. Resolves to the number updated (ids the mailbox no
    /// longer has are skipped). Throws `InvalidInput`, `AuthRequired`, `EwsError`, `GraphError`.
    #[wasm_bindgen(js_name = markSeen, unchecked_return_type = "Promise<number>")]
    pub fn mark_seen(&self, #[wasm_bindgen(unchecked_param_type = "string[]")] item_ids: JsValue) -> Promise {
        let inner = self.inner.clone();
        promise(async move {
            let ids: Vec<String> = from_js("itemIds", item_ids)?;
            if ids.is_empty() {
                return Ok(JsValue::from_f64(0.0));
            }
            let n = inner.spool.config.mailbox.mark_seen(&inner.transport, &ids).await.map_err(|e| error_to_js(&e))?;
            Ok(JsValue::from_f64(n as f64))
        })
    }

    /// Records an IM that arrived while the user was Do Not Disturb or Presenting as a missed
    /// conversation in the user's own mailbox (EWS CreateItem SaveOnly, Graph create message, into
    /// `conversationhistory`, From the original sender, not a draft; no mail is sent). Call it when
    /// `decision.recipientRecordsMissed` is true on the receiving side. Resolves to the new item id.
    /// Throws `InvalidInput`, `InvalidAddress`, `MessageTooLarge`, `AuthRequired`, `EwsError`,
    /// `GraphError` (`CreatedAsDraft`: Graph made a draft, which was deleted).
    #[wasm_bindgen(js_name = recordMissed, unchecked_return_type = "Promise<string>")]
    pub fn record_missed(&self, #[wasm_bindgen(unchecked_param_type = "RecordMissedInput")] input: JsValue) -> Promise {
        let inner = self.inner.clone();
        promise(async move {
            let input: RecordMissedInput = from_js("input", input)?;
            let message = input.into_message(random_id(), JsClock.now_ms());
            let id = inner.spool.config.mailbox.record_missed(&inner.transport, &message).await.map_err(|e| error_to_js(&e))?;
            Ok(JsValue::from_str(&id))
        })
    }

    /// Records written by offline-im before records knew their sender (IndexedDB schema
    /// version 1): `Promise<SpoolRecord[]>`, as they were stored, `[]` when there are none.
    /// They are never sent, since who wrote them cannot be known; the app may show them to the
    /// user, then `adopt` or `discardUnowned` each. Any messenger on the origin lists the same ones.
    #[wasm_bindgen(unchecked_return_type = "Promise<SpoolRecord[]>")]
    pub fn unowned(&self) -> Promise {
        let inner = self.inner.clone();
        promise(async move { inner.spool.store.unowned().await.map(JsValue::from).map_err(|e| error_to_js(&e)) })
    }

    /// Takes an unowned record (see `unowned`) as this sender's, because the app knows this
    /// user wrote it: it joins this sender's spool (after every stored message) and, if it was
    /// not yet delivered, is sent. Resolves to the record. Throws `UnknownMessage`,
    /// `InvalidInput` (the id is in use), `StorageError`.
    #[wasm_bindgen(unchecked_return_type = "Promise<SpoolRecord>")]
    pub fn adopt(&self, id: String) -> Promise {
        let inner = self.inner.clone();
        promise(async move {
            let fail = |e: Error| error_to_js(&e);
            let legacy = inner.spool.store.unowned_record(&id).await.map_err(fail)?.ok_or_else(|| fail(Error::UnknownMessage(id.clone())))?;
            let mut record = inner.spool.adoptable(legacy, JsClock.now_ms());
            record.seq = inner.spool.store.adopt_unowned(&record).await.map_err(fail)?.ok_or_else(|| fail(Error::InvalidInput { field: "id", reason: "is already in the spool".into() }))?;
            kick(&inner);
            to_js(&record)
        })
    }

    /// Deletes an unowned record (see `unowned`). Resolves to whether it existed.
    #[wasm_bindgen(js_name = discardUnowned, unchecked_return_type = "Promise<boolean>")]
    pub fn discard_unowned(&self, id: String) -> Promise {
        let inner = self.inner.clone();
        promise(async move { inner.spool.store.discard_unowned(&id).await.map(JsValue::from_bool).map_err(|e| error_to_js(&e)) })
    }

    /// Stops timers and listeners, ends a processing round under way (its Web Lock is released
    /// and the messages it had claimed are queued again), then closes the database. Queued
    /// messages stay in the spool.
    pub fn close(&self) {
        let inner = self.inner.clone();
        inner.closed.set(true);
        inner.timer.borrow_mut().take();
        if let (Some(cb), Ok(global)) = (inner.online.borrow_mut().take(), js_sys::global().dyn_into::<EventTarget>()) {
            let _ = global.remove_event_listener_with_callback("online", cb.as_ref().unchecked_ref());
        }
        let round = inner.round.borrow_mut().take();
        if let Some(round) = round {
            round.abort();
            spawn_local(async move {
                inner.release_claims().await;
                inner.spool.store.close();
            });
        } else {
            inner.spool.store.close();
        }
    }

    /// Listens for `queued`, `sending`, `delivered`, `retrying`, `failed`, `authrequired` and
    /// `error` (a CustomEvent; `detail` as `OfflineMessengerEventMap` gives it). Throws
    /// `InvalidInput` (`kind`) for any other name, so a misspelt event is not silently never
    /// dispatched, and (`listener`) when the listener is not a function.
    /// (Typed in TypeScript by the `OfflineMessenger` interface above, generic over the event name.)
    /// `options` are EventTarget's (`once`, `signal`, `capture`, `passive`, or a boolean for
    /// `capture`; MDN, EventTarget.addEventListener), passed through: `{ once: true }` hears one
    /// event, an aborted `signal` removes the listener. `None`/`undefined`: none.
    #[wasm_bindgen(js_name = addEventListener, skip_typescript)]
    pub fn add_event_listener(&self, kind: &str, listener: &Function, options: Option<JsValue>) -> Result<(), JsValue> {
        check_listener(kind, listener)?;
        let mut subscribed = self.inner.subscribed.borrow_mut();
        if !subscribed.iter().any(|n| n == kind) {
            subscribed.push(kind.to_string());
        }
        drop(subscribed);
        listen(&self.inner.events, kind, listener, &options.unwrap_or(JsValue::UNDEFINED))
    }

    /// Stops a listener added with `addEventListener` (with the same `capture`, as EventTarget
    /// matches listeners). Throws `InvalidInput` as it does.
    #[wasm_bindgen(js_name = removeEventListener, skip_typescript)]
    pub fn remove_event_listener(&self, kind: &str, listener: &Function, options: Option<JsValue>) -> Result<(), JsValue> {
        check_listener(kind, listener)?;
        unlisten(&self.inner.events, kind, listener, &options.unwrap_or(JsValue::UNDEFINED))
    }
}
