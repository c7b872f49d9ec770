//! The shared spool suite on the IndexedDB store, in Chrome and Firefox.
#![cfg(target_arch = "wasm32")]

#[path = "common/spool_suite.rs"]
mod spool_suite;

use offline_im::wasm::idb::IdbStore;
use offline_im::spool::Clock;
use spool_suite::*;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn unique(name: &str) -> String {
    format!("offline-im-test-{name}-{}", js_sys::Math::random())
}

async fn fresh(name: &str) -> IdbStore {
    IdbStore::open(&unique(name)).await.expect("IndexedDB opens")
}

#[wasm_bindgen_test]
async fn idb_store_contract() {
    store_contract(fresh("contract").await).await;
}
#[wasm_bindgen_test]
async fn idb_delivers_and_emits() {
    delivers_and_emits(fresh("deliver").await).await;
}
#[wasm_bindgen_test]
async fn idb_server_busy_backoff() {
    server_busy_backoff(fresh("busy").await).await;
}
#[wasm_bindgen_test]
async fn idb_permanent_failure_does_not_block() {
    permanent_failure_does_not_block(fresh("permanent").await).await;
}
/// Each request is held 50 ms: IndexedDB runs read-write transactions on one object store one at
/// a time, so with a 5 ms hold the claims of the next chains were still queued and only 3
/// requests overlapped (Chrome).
#[wasm_bindgen_test]
async fn idb_conversations_in_order_within_the_concurrency_bound() {
    conversations_in_order_within_the_concurrency_bound(fresh("order").await, || gloo_timers::future::TimeoutFuture::new(50)).await;
}
#[wasm_bindgen_test]
async fn idb_a_retrying_message_holds_up_its_conversation() {
    a_retrying_message_holds_up_its_conversation(fresh("holds").await).await;
}
#[wasm_bindgen_test]
async fn idb_a_late_answer_after_a_takeover() {
    a_late_answer_after_a_takeover(fresh("late").await).await;
}
#[wasm_bindgen_test]
async fn idb_a_late_failure_leaves_the_takeover_alone() {
    a_late_failure_leaves_the_takeover_alone(fresh("late-failure").await).await;
}
#[wasm_bindgen_test]
async fn idb_exhausted_messages_stay_in_the_store() {
    exhausted_messages_stay_in_the_store(fresh("exhausted").await).await;
}
#[wasm_bindgen_test]
async fn idb_delivered_records_are_pruned_after_keep_ms() {
    delivered_records_are_pruned_after_keep_ms(fresh("prune").await).await;
}
#[wasm_bindgen_test]
async fn idb_two_connections_deliver_once() {
    // Two connections to one database, as two tabs would have.
    let name = unique("two");
    let a = IdbStore::open(&name).await.unwrap();
    let b = IdbStore::open(&name).await.unwrap();
    two_spools_deliver_once(a, b).await;
}
#[wasm_bindgen_test]
async fn idb_expired_lease_is_taken_over() {
    expired_lease_is_taken_over(fresh("lease").await).await;
}
#[wasm_bindgen_test]
async fn idb_records_survive_reopening() {
    use offline_im::spool::{Spool, SpoolStore};
    let name = unique("reopen");
    let first = IdbStore::open(&name).await.unwrap();
    let spool = Spool::new(first.clone(), config("a"));
    let clock = FakeClock::at(1);
    accept(&spool, "kept", "c", &clock).await;
    first.close();
    let again = IdbStore::open(&name).await.unwrap();
    assert_eq!(again.get("kept").await.unwrap().unwrap().text, "text of kept");
}

#[wasm_bindgen_test]
fn dom_exceptions_become_typed_errors() {
    use offline_im::wasm::idb::storage_error;
    use wasm_bindgen::JsValue;
    let quota = web_sys::DomException::new_with_message_and_name("The quota has been exceeded.", "QuotaExceededError").unwrap();
    let e = storage_error(&JsValue::from(quota));
    assert_eq!((e.code(), e.to_string().as_str()), ("QuotaExceeded", "storage quota exceeded: The quota has been exceeded."));
    let other = web_sys::DomException::new_with_message_and_name("gone", "InvalidStateError").unwrap();
    let e = storage_error(&JsValue::from(other));
    assert_eq!(e.code(), "StorageError");
    assert!(e.to_string().contains("InvalidStateError"));
}

/// Group commit: inserts issued in one tick share a transaction; each resolves only once that
/// transaction completed, so when its future resolves a second connection (another tab) already
/// sees the record. A repeated id in the same batch is reported as existing and does not stop the
/// others from committing.
#[wasm_bindgen_test]
async fn idb_concurrent_inserts_are_each_durable_when_they_resolve() {
    use futures_util::future::join_all;
    use offline_im::spool::{Spool, SpoolStore};
    let name = unique("batch");
    let store = IdbStore::open(&name).await.unwrap();
    let observer = IdbStore::open(&name).await.unwrap();
    let spool = Spool::new(store.clone(), config("a"));
    let mut records: Vec<_> = (0..50).map(|i| spool.new_record(new_message(&format!("m{i}"), "c", "hello"), 1).unwrap()).collect();
    records.push(records[7].clone()); // the same id twice in one batch
    let observed = join_all(records.iter().map(|r| {
        let (store, observer) = (&store, &observer);
        async move {
            let added = store.insert(r).await.unwrap().is_some();
            // Read back at once, through the other connection.
            (added, observer.get(&r.id).await.unwrap().is_some())
        }
    }))
    .await;
    assert!(observed.iter().all(|(_, visible)| *visible), "every insert is visible when it resolves");
    assert_eq!(observed.iter().filter(|(added, _)| *added).count(), 50, "the repeated id is added once");
    assert!(!observed[50].0 || !observed[7].0, "one of the two m7 inserts reports an existing record");
    assert_eq!(observer.all(TONY).await.unwrap().len(), 50);
    // One transaction numbered the batch: 50 distinct seqs, in the order of the inserts.
    let mut seqs: Vec<(u64, String)> = observer.all(TONY).await.unwrap().into_iter().map(|r| (r.seq, r.id)).collect();
    seqs.sort();
    let ids: Vec<String> = seqs.iter().map(|(_, id)| id.clone()).collect();
    assert_eq!(ids, (0..50).map(|i| format!("m{i}")).collect::<Vec<_>>(), "seq follows insert order");
    // A later insert of an existing id (a new transaction) is refused too, and changes nothing.
    let mut again = records[3].clone();
    again.text = "changed".into();
    assert_eq!(store.insert(&again).await.unwrap(), None);
    assert_eq!(observer.get("m3").await.unwrap().unwrap().text, "hello");
}

#[wasm_bindgen::prelude::wasm_bindgen(inline_js = r#"
export function abortAfterNthAddSucceeds(n) {
  const add = IDBObjectStore.prototype.add;
  let calls = 0;
  IDBObjectStore.prototype.add = function (...args) {
    const req = add.apply(this, args);
    if (++calls === n) {
      IDBObjectStore.prototype.add = add;
      // Every earlier add of the batch has succeeded when this one's success fires: only the
      // commit is still to come, and it never does.
      req.addEventListener("success", () => req.transaction.abort());
    }
    return req;
  };
}"#)]
extern "C" {
    #[wasm_bindgen(js_name = abortAfterNthAddSucceeds)]
    fn abort_after_nth_add_succeeds(n: u32);
}

/// An insert resolves after its transaction committed, not when its own request succeeded: when
/// the shared transaction aborts after every request in it succeeded, every insert fails and
/// none of the records is there.
#[wasm_bindgen_test]
async fn idb_inserts_fail_together_when_their_transaction_aborts() {
    use futures_util::future::join_all;
    use offline_im::spool::{Spool, SpoolStore};
    let store = fresh("abort").await;
    let spool = Spool::new(store.clone(), config("a"));
    let records: Vec<_> = (0..10).map(|i| spool.new_record(new_message(&format!("m{i}"), "c", "hello"), 1).unwrap()).collect();
    abort_after_nth_add_succeeds(10);
    let results = join_all(records.iter().map(|r| store.insert(r))).await;
    assert!(results.iter().all(|r| r.as_ref().is_err_and(|e| e.code() == "StorageError")), "{results:?}");
    assert!(store.all(TONY).await.unwrap().is_empty());
    // The store is usable afterwards.
    assert!(store.insert(&records[0]).await.unwrap().is_some());
}

#[wasm_bindgen::prelude::wasm_bindgen(inline_js = r#"
export function holdOldConnection(name) {
  // An old tab: version 1, and no `versionchange` handler, so it never lets go.
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(name, 1);
    req.onupgradeneeded = () => req.result.createObjectStore("messages", { keyPath: "id" });
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}"#)]
extern "C" {
    #[wasm_bindgen(js_name = holdOldConnection)]
    fn hold_old_connection(name: &str) -> js_sys::Promise;
}

/// An upgrade that an old tab blocks is reported as DatabaseBlocked instead of hanging; a
/// connection of ours gives way (it closes on `versionchange`), so the upgrade goes through.
#[wasm_bindgen_test]
async fn idb_blocked_upgrade_is_reported_not_hung() {
    let name = unique("blocked");
    let old = wasm_bindgen_futures::JsFuture::from(hold_old_connection(&name)).await.unwrap();
    let e = IdbStore::open_with_version(&name, 3).await.err().expect("blocked");
    assert_eq!(e.code(), "DatabaseBlocked");
    web_sys::IdbDatabase::from(old).close();

    let name = unique("upgrade");
    let ours = IdbStore::open(&name).await.unwrap();
    let newer = IdbStore::open_with_version(&name, 3).await.expect("our old connection gives way");
    use offline_im::spool::SpoolStore;
    assert!(newer.all(TONY).await.unwrap().is_empty());
    assert!(ours.all(TONY).await.is_err(), "the old connection was closed");
}

#[wasm_bindgen::prelude::wasm_bindgen(inline_js = r#"
// Another tab's read-write transaction on "spool" that stays active for `ms` (it issues the next
// read as each one succeeds), so every read-write transaction of ours waits behind it.
// Resolves once the hold has begun.
export function holdSpool(name, ms) {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(name);
    req.onerror = () => reject(req.error);
    req.onsuccess = () => {
      const db = req.result;
      const tx = db.transaction("spool", "readwrite");
      const store = tx.objectStore("spool");
      const until = performance.now() + ms;
      const next = () => { const r = store.get("nothing"); r.onsuccess = () => { if (performance.now() < until) next(); }; };
      next();
      tx.oncomplete = () => db.close();
      resolve();
    };
  });
}"#)]
extern "C" {
    #[wasm_bindgen(js_name = holdSpool)]
    fn hold_spool(name: &str, ms: u32) -> js_sys::Promise;
}

/// Issue 11: every storage await is bounded. While another tab holds the object store longer
/// than STORAGE_TIMEOUT_MS, a write of ours fails with a storage error (TimeoutError) instead of
/// hanging, and the store works again once the hold ends. A timed-out write is withdrawn (its
/// transaction aborted), so the error tells the truth: nothing of it is written after the hold.
#[wasm_bindgen_test]
async fn idb_a_held_store_times_out_instead_of_hanging() {
    use offline_im::spool::{Spool, SpoolStore};
    use offline_im::wasm::idb::STORAGE_TIMEOUT_MS;
    let name = unique("held");
    let store = IdbStore::open(&name).await.unwrap();
    let spool = Spool::new(store.clone(), config("a"));
    let record = |id: &str| spool.new_record(new_message(id, "c", "hello"), 1).unwrap();
    assert!(store.insert(&record("m1")).await.unwrap().is_some());
    wasm_bindgen_futures::JsFuture::from(hold_spool(&name, STORAGE_TIMEOUT_MS + 3_000)).await.unwrap();
    let started = js_sys::Date::now();
    let m2 = record("m2");
    let (inserted, updated) = futures_util::future::join(store.insert(&m2), store.update("m1", &mut |r| { r.attempts += 1; true })).await;
    let waited = js_sys::Date::now() - started;
    let (inserted, updated) = (inserted.expect_err("held past the bound"), updated.expect_err("held past the bound"));
    for e in [&inserted, &updated] {
        assert_eq!(e.code(), "StorageError", "{e}");
        assert!(e.to_string().contains("TimeoutError") && e.to_string().contains("within 10000 ms"), "{e}");
    }
    assert!(inserted.to_string().contains("nothing was written"), "{inserted}");
    assert!(waited >= f64::from(STORAGE_TIMEOUT_MS) - 50.0 && waited < f64::from(STORAGE_TIMEOUT_MS) + 2_500.0, "failed after {waited} ms");
    // The hold ends; the queued transactions run, and new ones too.
    gloo_timers::future::TimeoutFuture::new(3_500).await;
    let ids: Vec<String> = store.all(TONY).await.unwrap().into_iter().map(|r| r.id).collect();
    assert_eq!(ids, ["m1"], "the timed-out insert was not written after the hold");
    assert_eq!(store.get("m1").await.unwrap().unwrap().attempts, 0, "the timed-out update changed nothing");
    assert!(store.insert(&record("m2")).await.unwrap().is_some(), "sent again, m2 is accepted");
    assert!(store.update("m1", &mut |r| { r.attempts += 1; true }).await.unwrap().is_some());
}

#[wasm_bindgen_test]
async fn idb_senders_see_only_their_own() {
    // Two connections, as Tony's tab and Sam's tab on one origin.
    let name = unique("senders");
    senders_see_only_their_own(IdbStore::open(&name).await.unwrap(), IdbStore::open(&name).await.unwrap()).await;
}
#[wasm_bindgen_test]
async fn idb_clock_set_back_keeps_order() {
    clock_set_back_keeps_order(fresh("clock").await).await;
}
#[wasm_bindgen_test]
async fn idb_auth_failure_halts_the_round() {
    auth_failure_halts_the_round(fresh("auth").await).await;
}
#[wasm_bindgen_test]
async fn idb_transport_failures_are_typed() {
    transport_failures_are_typed(fresh("transport").await).await;
}

#[wasm_bindgen::prelude::wasm_bindgen(inline_js = r#"
// A database exactly as offline-im 0.1.0 (schema version 1, record version 1) left it: object
// store "messages" keyed by id with indexes state and nextAttemptAt, and two records serialized
// by that release (Tony's, sent while EWS answered 503; no sender field).
export function writeVersion1(name) {
  const v1 = (id, seq) => ({ id, conversationId: "c-" + id, to: { emailAddress: "ana@contoso.com", displayName: "Ana" },
    toSipAddress: "sip:ana@contoso.com", text: "secret text of " + id, itemClass: "IPM.Note.Microsoft.Missed", state: "queued",
    attempts: 1, createdAt: 1700000000000, seq, nextAttemptAt: 1700000120000,
    lastError: { code: "Http503", message: "Service Unavailable", httpStatus: 503 }, leaseUntil: 0, recordVersion: 1 });
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(name, 1);
    req.onupgradeneeded = () => {
      const s = req.result.createObjectStore("messages", { keyPath: "id" });
      s.createIndex("state", "state");
      s.createIndex("nextAttemptAt", "nextAttemptAt");
      s.add(v1("old-1", 1));
      s.add(v1("old-2", 2));
    };
    req.onsuccess = () => { req.result.close(); resolve(); };
    req.onerror = () => reject(req.error);
  });
}
export function deleteDatabase(name) {
  return new Promise((resolve, reject) => {
    const req = indexedDB.deleteDatabase(name);
    req.onsuccess = () => resolve();
    req.onerror = () => reject(req.error);
  });
}"#)]
extern "C" {
    #[wasm_bindgen(js_name = writeVersion1)]
    fn write_version_1(name: &str) -> js_sys::Promise;
    #[wasm_bindgen(js_name = deleteDatabase)]
    fn delete_database(name: &str) -> js_sys::Promise;
}

/// Issue 11.1: the upgrade from a database the current release (schema 1) wrote. Its records
/// have no sender: they are kept intact and listed as unowned, never sent by anyone, until the
/// app adopts (then they are the adopter's, ordered after everything stored) or discards them.
#[wasm_bindgen_test]
async fn idb_upgrade_from_version_1_keeps_unowned_records_unsent() {
    use offline_im::spool::{SpoolStore, State};
    use wasm_bindgen_futures::JsFuture;
    let name = unique("upgrade-v1");
    JsFuture::from(write_version_1(&name)).await.unwrap();
    let store = IdbStore::open(&name).await.expect("upgrades to version 2");
    let spool = offline_im::spool::Spool::new(store.clone(), config_for("tab", SAM));
    let clock = FakeClock::at(1_800_000_000_000);
    let ews = FakeEws::default();
    // Nobody's spool holds them: Sam (or Tony) sees and sends none.
    assert!(spool.pending().await.unwrap().is_empty());
    assert_eq!(spool.process_due(&ews, &clock, &|_| {}).await.unwrap(), 0);
    assert!(ews.requests.borrow().is_empty());
    // They are intact and listed.
    let unowned = store.unowned().await.unwrap();
    assert_eq!(unowned.length(), 2);
    let first = offline_im::wasm::idb::from_js(unowned.get(0)).unwrap();
    assert_eq!((first.id.as_str(), first.sender.as_str(), first.text.as_str(), first.record_version), ("old-1", "", "secret text of old-1", 1));
    // A record of Sam's own, then the app adopts old-2 for Sam: it is ordered after Sam's.
    accept(&spool, "s1", "c-old-2", &clock).await;
    let legacy = store.unowned_record("old-2").await.unwrap().unwrap();
    let mut adopted = spool.adoptable(legacy, clock.now_ms());
    adopted.seq = store.adopt_unowned(&adopted).await.unwrap().expect("moved");
    let s1 = store.get("s1").await.unwrap().unwrap();
    assert!(adopted.seq > s1.seq, "adopted after everything stored");
    assert_eq!((adopted.sender.as_str(), adopted.state, adopted.record_version), (SAM, State::Queued, 2));
    assert_eq!(store.unowned().await.unwrap().length(), 1, "moved, not copied");
    assert!(store.discard_unowned("old-1").await.unwrap());
    assert!(!store.discard_unowned("old-1").await.unwrap());
    assert_eq!(store.unowned().await.unwrap().length(), 0);
    assert_eq!(spool.process_due(&ews, &clock, &|_| {}).await.unwrap(), 2);
    assert_eq!((ews.delivered_count("s1"), ews.delivered_count("old-2")), (1, 1));
}

/// Issue 11.7: another tab deletes the database. The store says so once, and its next
/// operation works on a fresh database instead of failing InvalidStateError forever.
#[wasm_bindgen_test]
async fn idb_deleted_database_is_reported_and_reopened() {
    use offline_im::spool::SpoolStore;
    use std::cell::Cell;
    use std::rc::Rc;
    use wasm_bindgen_futures::JsFuture;
    let name = unique("deleted");
    let store = IdbStore::open(&name).await.unwrap();
    let told = Rc::new(Cell::new(0));
    let t = told.clone();
    store.on_deleted(move || t.set(t.get() + 1));
    let spool = offline_im::spool::Spool::new(store.clone(), config("a"));
    let clock = FakeClock::at(1);
    accept(&spool, "m1", "c", &clock).await;
    JsFuture::from(delete_database(&name)).await.expect("the deletion is not blocked by our connection");
    assert_eq!(told.get(), 1, "told once");
    assert!(store.all(TONY).await.unwrap().is_empty(), "a fresh, empty database");
    accept(&spool, "m2", "c", &clock).await;
    assert_eq!(store.all(TONY).await.unwrap().len(), 1);
}

#[wasm_bindgen_test]
async fn idb_batches_settle_item_by_item() {
    batches_settle_item_by_item(fresh("batches").await).await;
}

#[wasm_bindgen_test]
async fn idb_waves_overlap() {
    waves_overlap(fresh("waves").await).await;
}

#[wasm_bindgen_test]
async fn idb_a_conversation_is_never_twice_in_one_ews_request() {
    a_conversation_is_never_twice_in_one_ews_request(fresh("batch-order").await).await;
}
