//! The spool in IndexedDB (MDN "Using IndexedDB"): database `dbName` (default `offline-im`).
//!
//! Schema version 2: object store `spool`, key path `id`, indexes `sender` (a messenger reads
//! only its sender's records: `index("sender").getAll(sender)`) and `seq` (the insert transaction
//! reads the highest `seq` and numbers new records after it). Version 1's object store `messages`
//! is left as it was by the upgrade: its records have no sender, so they are never sent; they are
//! listed by [`IdbStore::unowned`] and leave it only by [`IdbStore::adopt_unowned`] or
//! [`IdbStore::discard_unowned`].
//!
//! Writes use durability "strict" and resolve only after their transaction's `complete` event,
//! so an accepted message is on disk; a write that fails or passes its time bound is aborted, so
//! nothing of it is written later (an error means "not written"). Inserts are group-committed: inserts issued in the same
//! tick (many `send` calls at once) are collected as one JSON array and added in one
//! transaction; each resolves only after that transaction completed; if it aborts
//! (QuotaExceededError), every insert in it fails with that error and none was accepted.
//! Every request is bounded ([`STORAGE_TIMEOUT_MS`]). When another tab deletes the database,
//! the connection closes, the deletion listener ([`IdbStore::on_deleted`]) is told, and the next
//! operation opens a fresh database.

use super::bounded::within;
use crate::error::{Error, Result};
use crate::spool::{SpoolRecord, SpoolStore};
use futures_util::future::{FutureExt, LocalBoxFuture, Shared};
use js_sys::{Array, Function, Promise, Reflect};
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{DomException, IdbDatabase, IdbObjectStore, IdbRequest, IdbTransaction, IdbTransactionMode};

/// Current schema version.
pub const DB_VERSION: u32 = 2;
/// The object store of spool records (schema version 2).
pub const STORE: &str = "spool";
/// Version 1's object store: records without a sender, kept as they were.
pub const LEGACY_STORE: &str = "messages";
/// Longest wait for one IndexedDB request or transaction (ms) before it fails `TimeoutError`.
pub const STORAGE_TIMEOUT_MS: u32 = 10_000;

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
#[wasm_bindgen(module = "/src/wasm/shell.js")]
extern "C" {
    #[wasm_bindgen(js_name = openSpool)]
    fn open_spool(name: &str, version: u32, on_deleted: &Function) -> Promise;
    #[wasm_bindgen(js_name = requestPromise)]
    fn request_promise(req: &IdbRequest) -> Promise;
    #[wasm_bindgen(js_name = transactionPromise)]
    fn transaction_promise(tx: &IdbTransaction) -> Promise;
    /// Adds every record of the JSON array in one strict-durability transaction, numbered after
    /// the highest stored `seq`. Resolves, once committed, to each record's seq (null: its key
    /// existed); rejects when the transaction aborts.
    #[wasm_bindgen(js_name = addAll, catch)]
    fn add_all(db: &IdbDatabase, json: &str) -> std::result::Result<Promise, JsValue>;
    /// Aborts the transaction behind an [`add_all`] / [`move_from_legacy`] promise unless it
    /// already began to commit: true when it will not commit.
    fn withdraw(done: &Promise) -> bool;
    /// Adds one record (JSON) to `spool` and deletes `id` from `messages`, in one transaction.
    #[wasm_bindgen(js_name = moveFromLegacy, catch)]
    fn move_from_legacy(db: &IdbDatabase, id: &str, json: &str) -> std::result::Result<Promise, JsValue>;
    #[wasm_bindgen(js_name = legacyAll, catch)]
    fn legacy_all(db: &IdbDatabase) -> std::result::Result<Promise, JsValue>;
    /// The version 1 record `id`, or undefined (also when there is no version 1 store).
    #[wasm_bindgen(js_name = legacyGet, catch)]
    fn legacy_get(db: &IdbDatabase, id: &str) -> std::result::Result<Promise, JsValue>;
    /// Deletes the version 1 record `id` in one strict transaction; resolves to whether it existed.
    #[wasm_bindgen(js_name = legacyDelete, catch)]
    fn legacy_delete(db: &IdbDatabase, id: &str) -> std::result::Result<Promise, JsValue>;
    /// Gets every id at once; resolves with the JSON text of the values (null where absent).
    #[wasm_bindgen(js_name = getManyJson)]
    fn get_many_json(store: &IdbObjectStore, ids: &Array) -> Promise;
    /// Puts every record of the JSON array (requests of the store's transaction).
    #[wasm_bindgen(js_name = putAllJson, catch)]
    fn put_all_json(store: &IdbObjectStore, json: &str) -> std::result::Result<(), JsValue>;
}

/// A JS promise, bounded by [`STORAGE_TIMEOUT_MS`], with failures as typed errors.
async fn settle(promise: Promise) -> Result<JsValue> {
    match within(STORAGE_TIMEOUT_MS, JsFuture::from(promise)).await {
        Some(r) => r.map_err(|e| storage_error(&e)),
        None => Err(Error::Storage { name: "TimeoutError".into(), message: format!("IndexedDB did not answer within {STORAGE_TIMEOUT_MS} ms") }),
    }
}

/// A `DOMException` named `TimeoutError` (what [`storage_error`] reads), or the exception that
/// constructing it threw.
fn timeout_error(message: &str) -> JsValue {
    DomException::new_with_message_and_name(message, "TimeoutError").map_or_else(|e| e, JsValue::from)
}

/// Resolves with `request.result` on success, rejects with `request.error`.
async fn request(req: &IdbRequest) -> Result<JsValue> {
    settle(request_promise(req)).await
}

/// Resolves when the transaction completes; rejects with its error when it aborts or fails.
async fn completion(done: Promise) -> Result<()> {
    settle(done).await.map(drop)
}

/// The outcome of a transaction made in `shell.js` (`addAll`, `moveFromLegacy`), bounded by
/// [`STORAGE_TIMEOUT_MS`]. When the bound passes first, the transaction is withdrawn (aborted),
/// so the caller's error is the truth: nothing of it is written later. If it had already begun
/// to commit, its own outcome is awaited instead (bounded once more).
async fn commit_within(done: Promise) -> std::result::Result<JsValue, JsValue> {
    match within(STORAGE_TIMEOUT_MS, JsFuture::from(done.clone())).await {
        Some(outcome) => outcome,
        None if withdraw(&done) => Err(timeout_error(&format!("IndexedDB did not commit within {STORAGE_TIMEOUT_MS} ms; nothing was written"))),
        None => within(STORAGE_TIMEOUT_MS, JsFuture::from(done)).await.unwrap_or_else(|| Err(timeout_error(&format!("IndexedDB did not finish committing within {STORAGE_TIMEOUT_MS} ms more")))),
    }
}

/// A write's result, its transaction aborted when it failed (a request that failed or timed out,
/// a commit that did not come within the bound): all or nothing, and a timed-out write is not
/// applied later. Aborting a transaction that already finished changes nothing.
fn all_or_nothing<T>(tx: &IdbTransaction, result: Result<T>) -> Result<T> {
    if result.is_err() {
        let _ = tx.abort();
    }
    result
}

/// A record as the plain object IndexedDB stores (structured clone of JSON-shaped data).
fn to_js(record: &SpoolRecord) -> Result<JsValue> {
    super::json_value(record)
}

/// The error for a stored record that is not a spool record (`DataError`).
fn unreadable(why: String) -> Error {
    Error::Storage { name: "DataError".into(), message: ["unreadable spool record: ", &why].concat() }
}

/// A stored object as a record (version 1 records read with an empty `sender`).
pub fn from_js(value: JsValue) -> Result<SpoolRecord> {
    let text = super::stringify(&value).ok_or_else(|| unreadable("not JSON".into()))?;
    serde_json::from_str(&text).map_err(|e| unreadable(e.to_string()))
}

/// The commit of one group of inserts: each record's seq, or null where its key existed.
type Committed = Shared<LocalBoxFuture<'static, std::result::Result<JsValue, JsValue>>>;

/// Inserts of the current tick, waiting for their shared transaction: a JSON array being built.
struct Group {
    json: String,
    count: u32,
    committed: Committed,
}

type Listener = Rc<RefCell<Option<Box<dyn Fn()>>>>;

/// The IndexedDB spool store. Clones share one connection.
#[derive(Clone)]
pub struct IdbStore {
    db: Rc<RefCell<IdbDatabase>>,
    name: Rc<str>,
    version: u32,
    deleted: Rc<Cell<bool>>,
    listener: Listener,
    watcher: Rc<Closure<dyn FnMut()>>,
    group: Rc<RefCell<Option<Group>>>,
}

async fn connect(name: &str, version: u32, watcher: &Closure<dyn FnMut()>) -> Result<IdbDatabase> {
    match settle(open_spool(name, version.max(1), watcher.as_ref().unchecked_ref())).await {
        Err(Error::Storage { name: n, .. }) if n == "DatabaseBlocked" => Err(Error::DatabaseBlocked(name.to_string())),
        other => other.map(JsCast::unchecked_into),
    }
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
        let deleted = Rc::new(Cell::new(false));
        let listener: Listener = Rc::default();
        let (flag, told) = (deleted.clone(), listener.clone());
        let watcher = Closure::<dyn FnMut()>::new(move || {
            flag.set(true);
            if let Some(f) = told.borrow().as_ref() {
                f();
            }
        });
        let db = connect(name, version, &watcher).await?;
        Ok(IdbStore { db: Rc::new(RefCell::new(db)), name: name.into(), version, deleted, listener, watcher: Rc::new(watcher), group: Default::default() })
    }

    /// The database name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Calls `f` when another tab (or the user) deletes the database. The store itself reopens
    /// a fresh, empty database at its next operation.
    pub fn on_deleted(&self, f: impl Fn() + 'static) {
        *self.listener.borrow_mut() = Some(Box::new(f));
    }

    /// Closes the connection.
    pub fn close(&self) {
        self.db.borrow().close();
    }

    /// The live connection: a fresh database when the old one was deleted.
    async fn connection(&self) -> Result<IdbDatabase> {
        if self.deleted.get() {
            let db = connect(&self.name, self.version, &self.watcher).await?;
            *self.db.borrow_mut() = db;
            self.deleted.set(false);
        }
        Ok(self.db.borrow().clone())
    }

    async fn tx(&self, store_name: &str, write: bool) -> Result<(IdbTransaction, IdbObjectStore)> {
        let db = self.connection().await?;
        let tx: IdbTransaction = if write {
            // db.transaction(store, "readwrite", { durability: "strict" }): the options dictionary is
            // behind web_sys_unstable_apis, so it is passed as a plain object.
            let options = js_sys::Object::new();
            let _ = Reflect::set(&options, &"durability".into(), &"strict".into());
            let transaction: Function = Reflect::get(&db, &"transaction".into()).map_err(|e| storage_error(&e))?.unchecked_into();
            transaction.call3(&db, &store_name.into(), &"readwrite".into(), &options).map(JsCast::unchecked_into)
        } else {
            db.transaction_with_str_and_mode(store_name, IdbTransactionMode::Readonly)
        }
        .map_err(|e| storage_error(&e))?;
        let store = tx.object_store(store_name).map_err(|e| storage_error(&e))?;
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
            let (store, open) = (self.clone_without_group(), Rc::downgrade(&self.group));
            let committed = async move {
                JsFuture::from(Promise::resolve(&JsValue::UNDEFINED)).await?;
                let group = open.upgrade().and_then(|slot| slot.borrow_mut().take());
                // Unreachable while an insert awaits this (it borrows the store); never report
                // records as written that were not.
                let Some(Group { mut json, .. }) = group else { return Err(JsValue::from_str("the spool store is gone; nothing was written")) };
                json.push(']');
                // The connection is bounded by its own open; the commit by its own timer, one
                // for every insert in the group (a timer per insert cost 1000
                // setTimeout/clearTimeout pairs for 1000 concurrent sends).
                let db = store.connection().await.map_err(|e| JsValue::from_str(&e.to_string()))?;
                commit_within(add_all(&db, &json)?).await
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

    /// The same connection without the group slot (what a group's commit needs).
    fn clone_without_group(&self) -> IdbStore {
        IdbStore { group: Rc::default(), ..self.clone() }
    }

    /// Records of schema version 1 (no sender), as they were stored: `[]` when there are none.
    pub async fn unowned(&self) -> Result<Array> {
        let db = self.connection().await?;
        Ok(settle(legacy_all(&db).map_err(|e| storage_error(&e))?).await?.unchecked_into())
    }

    /// One version 1 record, if there is one with this id.
    pub async fn unowned_record(&self, id: &str) -> Result<Option<SpoolRecord>> {
        let db = self.connection().await?;
        let v = settle(legacy_get(&db, id).map_err(|e| storage_error(&e))?).await?;
        if v.is_undefined() { Ok(None) } else { from_js(v).map(Some) }
    }

    /// Moves a version 1 record, already given its sender (`Spool::adopt` rules), into `spool`
    /// and out of `messages` in one transaction. Returns its new seq; None if its id exists.
    pub async fn adopt_unowned(&self, record: &SpoolRecord) -> Result<Option<u64>> {
        let db = self.connection().await?;
        let promise = move_from_legacy(&db, &record.id, &super::json_text(record)?).map_err(|e| storage_error(&e))?;
        let seqs: Array = commit_within(promise).await.map_err(|e| storage_error(&e))?.unchecked_into();
        Ok(seqs.get(0).as_f64().map(|s| s as u64))
    }

    /// Deletes a version 1 record (one transaction). Returns whether it existed.
    pub async fn discard_unowned(&self, id: &str) -> Result<bool> {
        let db = self.connection().await?;
        Ok(settle(legacy_delete(&db, id).map_err(|e| storage_error(&e))?).await?.is_truthy())
    }
}

impl SpoolStore for IdbStore {
    async fn get(&self, id: &str) -> Result<Option<SpoolRecord>> {
        let (_tx, store) = self.tx(STORE, false).await?;
        let v = request(&store.get(&JsValue::from_str(id)).map_err(|e| storage_error(&e))?).await?;
        if v.is_undefined() { Ok(None) } else { from_js(v).map(Some) }
    }

    async fn insert(&self, record: &SpoolRecord) -> Result<Option<u64>> {
        // The group's commit opens the connection (a fresh database after a deletion).
        let (index, committed) = self.join_group(record)?;
        // When the transaction aborts (QuotaExceededError, …) every insert in it failed with
        // that error; when it commits, each was added unless its key existed.
        // Bounded by the group's own timer (`join_group`).
        let result = committed.await.map_err(|e| storage_error(&e))?;
        let seqs: Array = result.unchecked_into();
        Ok(seqs.get(index).as_f64().map(|s| s as u64))
    }

    async fn update(&self, id: &str, change: &mut dyn FnMut(&mut SpoolRecord) -> bool) -> Result<Option<SpoolRecord>> {
        let (tx, store) = self.tx(STORE, true).await?;
        let done = transaction_promise(&tx);
        let apply = async {
            let current = request(&store.get(&JsValue::from_str(id)).map_err(|e| storage_error(&e))?).await?;
            let mut written = None;
            if !current.is_undefined() {
                let mut record = from_js(current)?;
                if change(&mut record) {
                    store.put(&to_js(&record)?).map_err(|e| storage_error(&e))?;
                    written = Some(record);
                }
            }
            completion(done).await.map(|()| written)
        };
        all_or_nothing(&tx, apply.await)
    }

    async fn update_many(&self, ids: &[String], change: &mut dyn FnMut(usize, &mut SpoolRecord) -> bool) -> Result<Vec<Option<SpoolRecord>>> {
        let (tx, store) = self.tx(STORE, true).await?;
        let done = transaction_promise(&tx);
        let apply = async {
            // Every read is issued at once and answered as one JSON array; the puts are issued
            // in the same task, while the transaction is still active, as one JSON array too.
            let keys: Array = ids.iter().map(|id| JsValue::from_str(id)).collect();
            let text = settle(get_many_json(&store, &keys)).await?.as_string().unwrap_or_default();
            let current: Vec<Option<SpoolRecord>> = serde_json::from_str(&text).map_err(|e| unreadable(e.to_string()))?;
            let mut written = Vec::with_capacity(ids.len());
            for (i, record) in current.into_iter().enumerate() {
                written.push(record.and_then(|mut r| change(i, &mut r).then_some(r)));
            }
            let changed: Vec<&SpoolRecord> = written.iter().flatten().collect();
            if !changed.is_empty() {
                put_all_json(&store, &super::json_text(&changed)?).map_err(|e| storage_error(&e))?;
            }
            completion(done).await.map(|()| written)
        };
        all_or_nothing(&tx, apply.await)
    }

    async fn delete(&self, id: &str) -> Result<bool> {
        let (tx, store) = self.tx(STORE, true).await?;
        let done = transaction_promise(&tx);
        let key = JsValue::from_str(id);
        let apply = async {
            let count = request(&store.count_with_key(&key).map_err(|e| storage_error(&e))?).await?;
            let existed = count.as_f64().unwrap_or(0.0) > 0.0;
            if existed {
                store.delete(&key).map_err(|e| storage_error(&e))?;
            }
            completion(done).await.map(|()| existed)
        };
        all_or_nothing(&tx, apply.await)
    }

    async fn all(&self, sender: &str) -> Result<Vec<SpoolRecord>> {
        let (_tx, store) = self.tx(STORE, false).await?;
        let index = store.index("sender").map_err(|e| storage_error(&e))?;
        let values: Array = request(&index.get_all_with_key(&JsValue::from_str(sender)).map_err(|e| storage_error(&e))?).await?.unchecked_into();
        // One stringify for the lot (a pass lists every record of the sender).
        let text = super::stringify(&values).ok_or_else(|| unreadable("not JSON".into()))?;
        serde_json::from_str(&text).map_err(|e| unreadable(e.to_string()))
    }
}
