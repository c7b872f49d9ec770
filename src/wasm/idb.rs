//! The spool in IndexedDB (MDN "Using IndexedDB"): database `dbName` (default `offline-im`),
//! version 1, object store `messages` keyed by `id`, indexes `state` and `nextAttemptAt`.
//! Writes use durability "strict" and resolve only after their transaction's `complete` event,
//! so an accepted message is on disk. Inserts are group-committed: inserts issued in the same tick
//! (for example many `send` calls at once) are collected as one JSON array and added in one
//! transaction, and every one of them resolves only after that transaction has completed; if it
//! aborts (QuotaExceededError), every insert in it fails with that error and none was accepted.

use crate::error::{Error, Result};
use crate::spool::{SpoolRecord, SpoolStore};
use futures_util::future::{FutureExt, LocalBoxFuture, Shared};
use js_sys::{Array, Function, Promise, Reflect};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    DomException, IdbDatabase, IdbFactory, IdbIndexParameters, IdbObjectStore, IdbObjectStoreParameters, IdbOpenDbRequest, IdbRequest,
    IdbTransaction, IdbTransactionMode,
};

/// Current schema version.
pub const DB_VERSION: u32 = 1;
/// The object store of spool records.
pub const STORE: &str = "messages";

/// Turns a DOMException (or anything thrown) into a typed error.
pub fn storage_error(value: &JsValue) -> Error {
    if let Some(e) = value.dyn_ref::<DomException>() {
        if e.name() == "QuotaExceededError" {
            return Error::QuotaExceeded(e.message());
        }
        return Error::Storage { name: e.name(), message: e.message() };
    }
    let message = value.as_string().or_else(|| Reflect::get(value, &"message".into()).ok().and_then(|m| m.as_string())).unwrap_or_else(|| "unknown error".into());
    Error::Storage { name: "Error".into(), message }
}

// The promise wiring is plain JS: handlers that never fire (onerror after a success, onabort after
// a commit) are then ordinary garbage. Rust closures handed to JS that are never called are
// never freed, and each would keep its request (and the request's result) alive.
#[wasm_bindgen(inline_js = r#"
export function requestPromise(req) {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}
export function addAll(db, storeName, json) {
  const tx = db.transaction(storeName, "readwrite", { durability: "strict" });
  const store = tx.objectStore(storeName);
  const existing = [];
  try {
    JSON.parse(json).forEach((record, i) => {
      const req = store.add(record);
      // A key that exists fails only its own request (prevented, so the others commit).
      req.onerror = (event) => {
        if (req.error && req.error.name === "ConstraintError") {
          event.preventDefault();
          existing.push(i);
        }
      };
    });
  } catch (e) {
    tx.abort();
    throw e;
  }
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve(existing);
    tx.onabort = () => reject(tx.error ?? new DOMException("The transaction was aborted.", "AbortError"));
  });
}
export function transactionPromise(tx) {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onabort = () => reject(tx.error ?? new DOMException("The transaction was aborted.", "AbortError"));
  });
}"#)]
extern "C" {
    #[wasm_bindgen(js_name = requestPromise)]
    fn request_promise(req: &IdbRequest) -> Promise;
    #[wasm_bindgen(js_name = transactionPromise)]
    fn transaction_promise(tx: &IdbTransaction) -> Promise;
    /// Adds every record of the JSON array in one strict-durability transaction. Resolves, when
    /// it has committed, to the indexes of the records whose key existed; rejects when it aborts.
    #[wasm_bindgen(js_name = addAll, catch)]
    fn add_all(db: &IdbDatabase, store: &str, json: &str) -> std::result::Result<Promise, JsValue>;
}

/// Resolves with `request.result` on success, rejects with `request.error`.
async fn request(req: &IdbRequest) -> Result<JsValue> {
    JsFuture::from(request_promise(req)).await.map_err(|e| storage_error(&e))
}

/// Resolves when the transaction completes; rejects with its error when it aborts or fails.
fn completion(tx: &IdbTransaction) -> JsFuture {
    JsFuture::from(transaction_promise(tx))
}

/// A record as the plain object IndexedDB stores (structured clone of JSON-shaped data).
fn to_js(record: &SpoolRecord) -> Result<JsValue> {
    super::json_value(record)
}

fn from_js(value: JsValue) -> Result<SpoolRecord> {
    let unreadable = |why: String| Error::Storage { name: "DataError".into(), message: ["unreadable spool record: ", &why].concat() };
    let text = super::stringify(&value).ok_or_else(|| unreadable("not JSON".into()))?;
    serde_json::from_str(&text).map_err(|e| unreadable(e.to_string()))
}

/// The commit of one group of inserts: the indexes (in the group) of records whose key existed.
type Committed = Shared<LocalBoxFuture<'static, std::result::Result<JsValue, JsValue>>>;

/// Inserts of the current tick, waiting for their shared transaction: a JSON array being built.
struct Group {
    json: String,
    count: u32,
    committed: Committed,
}

/// The IndexedDB spool store.
#[derive(Clone)]
pub struct IdbStore {
    db: IdbDatabase,
    name: String,
    group: Rc<RefCell<Option<Group>>>,
}

impl IdbStore {
    /// Opens (creating or upgrading) the database. Errors: [`Error::DatabaseBlocked`] when an
    /// older connection in another tab does not close; [`Error::Storage`] otherwise.
    pub async fn open(name: &str) -> Result<IdbStore> {
        Self::open_with_version(name, DB_VERSION).await
    }

    /// [`IdbStore::open`] at an explicit schema version (≥ 1): what a later release that changes
    /// the schema does, and how tests provoke an upgrade. Errors as for `open`.
    pub async fn open_with_version(name: &str, version: u32) -> Result<IdbStore> {
        let factory: IdbFactory = Reflect::get(&js_sys::global(), &"indexedDB".into())
            .ok()
            .filter(|f| !f.is_undefined() && !f.is_null())
            .ok_or_else(|| Error::Storage { name: "NotSupportedError".into(), message: "IndexedDB is not available here".into() })?
            .unchecked_into();
        let open: IdbOpenDbRequest = factory.open_with_u32(name, version.max(1)).map_err(|e| storage_error(&e))?;
        let upgrade = Closure::<dyn FnMut(web_sys::IdbVersionChangeEvent)>::new(move |ev: web_sys::IdbVersionChangeEvent| {
            let Some(target) = ev.target() else { return };
            let req: IdbOpenDbRequest = target.unchecked_into();
            let Ok(db) = req.result().map(|r| r.unchecked_into::<IdbDatabase>()) else { return };
            // Upgrade path: each step brings the schema from one version to the next.
            if ev.old_version() < 1.0 {
                let params = IdbObjectStoreParameters::new();
                params.set_key_path(&JsValue::from_str("id"));
                if let Ok(store) = db.create_object_store_with_optional_parameters(STORE, &params) {
                    let _ = store.create_index_with_str_and_optional_parameters("state", "state", &IdbIndexParameters::new());
                    let _ = store.create_index_with_str_and_optional_parameters("nextAttemptAt", "nextAttemptAt", &IdbIndexParameters::new());
                }
            }
        });
        open.set_onupgradeneeded(Some(upgrade.as_ref().unchecked_ref()));
        let blocked_name = name.to_string();
        let blocked = Promise::new(&mut |_resolve: Function, reject: Function| {
            let name = blocked_name.clone();
            let on_blocked = Closure::once_into_js(move || {
                let _ = reject.call1(&JsValue::NULL, &JsValue::from_str(&name));
            });
            open.set_onblocked(Some(on_blocked.unchecked_ref()));
        });
        let opened = request(&open);
        let blocked = async { JsFuture::from(blocked).await };
        futures_util::pin_mut!(opened);
        futures_util::pin_mut!(blocked);
        let db = match futures_util::future::select(opened, blocked).await {
            futures_util::future::Either::Left((result, _)) => result?,
            futures_util::future::Either::Right(_) => return Err(Error::DatabaseBlocked(name.to_string())),
        };
        drop(upgrade);
        let db: IdbDatabase = db.unchecked_into();
        // Let newer versions in other tabs upgrade: close this connection when asked to.
        let closing = db.clone();
        let on_version_change = Closure::<dyn FnMut()>::new(move || closing.close());
        db.set_onversionchange(Some(on_version_change.as_ref().unchecked_ref()));
        on_version_change.forget();
        Ok(IdbStore { db, name: name.to_string(), group: Default::default() })
    }

    /// The database name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Closes the connection.
    pub fn close(&self) {
        self.db.close();
    }

    fn tx(&self, write: bool) -> Result<(IdbTransaction, IdbObjectStore)> {
        let tx: IdbTransaction = if write {
            // db.transaction(store, "readwrite", { durability: "strict" }): the options dictionary is
            // behind web_sys_unstable_apis, so it is passed as a plain object.
            let options = js_sys::Object::new();
            let _ = Reflect::set(&options, &"durability".into(), &"strict".into());
            let transaction: Function = Reflect::get(&self.db, &"transaction".into()).map_err(|e| storage_error(&e))?.unchecked_into();
            transaction.call3(&self.db, &STORE.into(), &"readwrite".into(), &options).map(JsCast::unchecked_into)
        } else {
            self.db.transaction_with_str_and_mode(STORE, IdbTransactionMode::Readonly)
        }
        .map_err(|e| storage_error(&e))?;
        let store = tx.object_store(STORE).map_err(|e| storage_error(&e))?;
        Ok((tx, store))
    }

    /// Appends `record` to this tick's group of inserts (starting one if there is none) and
    /// returns its index in the group and the group's commit. The group is written in a microtask,
    /// after every insert issued in the same tick has joined it.
    fn join_group(&self, record: &SpoolRecord) -> Result<(u32, Committed)> {
        let text = super::json_text(record)?;
        let mut slot = self.group.borrow_mut();
        let group = slot.get_or_insert_with(|| {
            // Weak: the group holds this future, so a strong reference would be a cycle.
            let (db, open) = (self.db.clone(), Rc::downgrade(&self.group));
            let committed = async move {
                JsFuture::from(Promise::resolve(&JsValue::UNDEFINED)).await?;
                let group = open.upgrade().and_then(|slot| slot.borrow_mut().take());
                // Unreachable while an insert awaits this (it borrows the store); never report
                // records as written that were not.
                let Some(Group { mut json, .. }) = group else { return Err(JsValue::from_str("the spool store is gone; nothing was written")) };
                json.push(']');
                JsFuture::from(add_all(&db, STORE, &json)?).await
            };
            Group { json: String::from("["), count: 0, committed: committed.boxed_local().shared() }
        });
        if group.count > 0 {
            group.json.push(',');
        }
        group.json.push_str(&text);
        group.count += 1;
        Ok((group.count - 1, group.committed.clone()))
    }
}

impl SpoolStore for IdbStore {
    async fn get(&self, id: &str) -> Result<Option<SpoolRecord>> {
        let (_tx, store) = self.tx(false)?;
        let v = request(&store.get(&JsValue::from_str(id)).map_err(|e| storage_error(&e))?).await?;
        if v.is_undefined() { Ok(None) } else { from_js(v).map(Some) }
    }

    async fn insert(&self, record: &SpoolRecord) -> Result<bool> {
        let (index, committed) = self.join_group(record)?;
        // When the transaction aborts (QuotaExceededError, …) every insert in it failed with
        // that error; when it commits, each was added unless its key existed.
        let existing: Array = committed.await.map_err(|e| storage_error(&e))?.unchecked_into();
        Ok(!existing.includes(&JsValue::from(index), 0))
    }

    async fn update(&self, id: &str, change: &mut dyn FnMut(&mut SpoolRecord) -> bool) -> Result<Option<SpoolRecord>> {
        let (tx, store) = self.tx(true)?;
        let done = completion(&tx);
        let current = request(&store.get(&JsValue::from_str(id)).map_err(|e| storage_error(&e))?).await?;
        let mut written = None;
        if !current.is_undefined() {
            let mut record = from_js(current)?;
            if change(&mut record) {
                store.put(&to_js(&record)?).map_err(|e| storage_error(&e))?;
                written = Some(record);
            }
        }
        done.await.map_err(|e| storage_error(&e))?;
        Ok(written)
    }

    async fn delete(&self, id: &str) -> Result<bool> {
        let (tx, store) = self.tx(true)?;
        let done = completion(&tx);
        let key = JsValue::from_str(id);
        let count = request(&store.count_with_key(&key).map_err(|e| storage_error(&e))?).await?;
        let existed = count.as_f64().unwrap_or(0.0) > 0.0;
        if existed {
            store.delete(&key).map_err(|e| storage_error(&e))?;
        }
        done.await.map_err(|e| storage_error(&e))?;
        Ok(existed)
    }

    async fn all(&self) -> Result<Vec<SpoolRecord>> {
        let (_tx, store) = self.tx(false)?;
        let values: Array = request(&store.get_all().map_err(|e| storage_error(&e))?).await?.unchecked_into();
        values.iter().map(from_js).collect()
    }
}
