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
