//! The shared spool suite on the IndexedDB store, in Chrome and Firefox.
#![cfg(target_arch = "wasm32")]

#[path = "common/spool_suite.rs"]
mod spool_suite;

use offline_im::wasm::idb::IdbStore;
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
            let added = store.insert(r).await.unwrap();
            // Read back at once, through the other connection.
            (added, observer.get(&r.id).await.unwrap().is_some())
        }
    }))
    .await;
    assert!(observed.iter().all(|(_, visible)| *visible), "every insert is visible when it resolves");
    assert_eq!(observed.iter().filter(|(added, _)| *added).count(), 50, "the repeated id is added once");
    assert!(!observed[50].0 || !observed[7].0, "one of the two m7 inserts reports an existing record");
    assert_eq!(observer.all().await.unwrap().len(), 50);
    // A later insert of an existing id (a new transaction) is refused too, and changes nothing.
    let mut again = records[3].clone();
    again.text = "changed".into();
    assert!(!store.insert(&again).await.unwrap());
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
    assert!(store.all().await.unwrap().is_empty());
    // The store is usable afterwards.
    assert!(store.insert(&records[0]).await.unwrap());
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
    let e = IdbStore::open_with_version(&name, 2).await.err().expect("blocked");
    assert_eq!(e.code(), "DatabaseBlocked");
    web_sys::IdbDatabase::from(old).close();

    let name = unique("upgrade");
    let ours = IdbStore::open(&name).await.unwrap();
    let newer = IdbStore::open_with_version(&name, 2).await.expect("our old connection gives way");
    use offline_im::spool::SpoolStore;
    assert!(newer.all().await.unwrap().is_empty());
    assert!(ours.all().await.is_err(), "the old connection was closed");
}
