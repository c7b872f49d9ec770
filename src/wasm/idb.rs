//! The spool in IndexedDB (MDN "Using IndexedDB"): database `dbName` (default `offline-im`),
//! version 1, object store `messages` keyed by `id`, indexes `state` and `nextAttemptAt`.
//! Writes use durability "strict" and resolve only after their transaction's `complete` event,
//! so an accepted message is on disk. Inserts are group-committed: inserts issued while an insert
//! transaction is still active (for example many `send` calls in one tick) share it, and every
//! one of them resolves only after that shared transaction has completed.

use crate::error::{Error, Result};
use crate::spool::{SpoolRecord, SpoolStore};
use js_sys::{Array, Function, Promise, Reflect};
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

/// Resolves with `request.result` on success, rejects with `request.error`.
async fn request(req: &IdbRequest) -> Result<JsValue> {
    let promise = Promise::new(&mut |resolve: Function, reject: Function| {
        let ok_req = req.clone();
        let ok = Closure::once_into_js(move || {
            let _ = resolve.call1(&JsValue::NULL, &ok_req.result().unwrap_or(JsValue::UNDEFINED));
        });
        let err_req = req.clone();
        let err = Closure::once_into_js(move || {
            let e = err_req.error().ok().flatten().map(JsValue::from).unwrap_or(JsValue::UNDEFINED);
            let _ = reject.call1(&JsValue::NULL, &e);
        });
        req.set_onsuccess(Some(ok.unchecked_ref()));
        req.set_onerror(Some(err.unchecked_ref()));
    });
    JsFuture::from(promise).await.map_err(|e| storage_error(&e))
}

/// `store.add(value)` as a future: Ok(true) when added, Ok(false) when the key already exists
/// (the ConstraintError is handled with `preventDefault`, so the shared transaction still
/// commits the other inserts), Err for anything else.
async fn add_request(req: &IdbRequest) -> Result<bool> {
    let promise = Promise::new(&mut |resolve: Function, _reject: Function| {
        let ok_resolve = resolve.clone();
        let ok = Closure::once_into_js(move || {
            let _ = ok_resolve.call1(&JsValue::NULL, &JsValue::TRUE);
        });
        let err_req = req.clone();
        let err = Closure::once_into_js(move |ev: web_sys::Event| {
            let e = err_req.error().ok().flatten();
            let outcome = match e {
                Some(e) if e.name() == "ConstraintError" => {
                    ev.prevent_default();
                    JsValue::FALSE
                }
                Some(e) => e.into(),
                None => JsValue::from_str("request failed"),
            };
            let _ = resolve.call1(&JsValue::NULL, &outcome);
        });
        req.set_onsuccess(Some(ok.unchecked_ref()));
        req.set_onerror(Some(err.unchecked_ref()));
    });
    let v = JsFuture::from(promise).await.map_err(|e| storage_error(&e))?;
    v.as_bool().ok_or_else(|| storage_error(&v))
}

/// Resolves when the transaction completes; rejects with its error when it aborts or fails.
fn completion(tx: &IdbTransaction) -> JsFuture {
    JsFuture::from(completion_promise(tx))
}

fn completion_promise(tx: &IdbTransaction) -> Promise {
    let promise = Promise::new(&mut |resolve: Function, reject: Function| {
        let done = Closure::once_into_js(move || {
            let _ = resolve.call0(&JsValue::NULL);
        });
        let failed_tx = tx.clone();
        let failed = Closure::once_into_js(move || {
            let e = failed_tx.error().map(JsValue::from).unwrap_or_else(|| JsValue::from_str("transaction aborted"));
            let _ = reject.call1(&JsValue::NULL, &e);
        });
        tx.set_oncomplete(Some(done.unchecked_ref()));
        tx.set_onabort(Some(failed.unchecked_ref()));
    });
    promise
}

fn to_js(record: &SpoolRecord) -> Result<JsValue> {
    serde::Serialize::serialize(record, &serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|e| Error::Storage { name: "DataError".into(), message: e.to_string() })
}

fn from_js(value: JsValue) -> Result<SpoolRecord> {
    serde_wasm_bindgen::from_value(value).map_err(|e| Error::Storage { name: "DataError".into(), message: format!("unreadable spool record: {e}") })
}

/// The insert transaction that later inserts may join while it is still active: its object
/// store and its completion promise.
type OpenBatch = Option<(IdbObjectStore, Promise)>;

/// The IndexedDB spool store.
#[derive(Clone)]
pub struct IdbStore {
    db: IdbDatabase,
    name: String,
    batch: std::rc::Rc<std::cell::RefCell<OpenBatch>>,
}

impl IdbStore {
    /// Opens (creating or upgrading) the database. Errors: [`Error::DatabaseBlocked`] when an
    /// older connection in another tab does not close; [`Error::Storage`] otherwise.
    pub async fn open(name: &str) -> Result<IdbStore> {
        let factory: IdbFactory = Reflect::get(&js_sys::global(), &"indexedDB".into())
            .ok()
            .filter(|f| !f.is_undefined() && !f.is_null())
            .ok_or_else(|| Error::Storage { name: "NotSupportedError".into(), message: "IndexedDB is not available here".into() })?
            .unchecked_into();
        let open: IdbOpenDbRequest = factory.open_with_u32(name, DB_VERSION).map_err(|e| storage_error(&e))?;
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
        Ok(IdbStore { db, name: name.to_string(), batch: Default::default() })
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

    /// Issues `add(value)` on the open insert transaction if it is still active, else on a new one
    /// (which becomes the open one). Returns the request and the transaction's completion.
    fn batched_add(&self, value: &JsValue) -> Result<(IdbRequest, Promise)> {
        if let Some((store, done)) = self.batch.borrow().as_ref() {
            // Throws TransactionInactiveError once the transaction left its task: start a new one.
            if let Ok(req) = store.add(value) {
                return Ok((req, done.clone()));
            }
        }
        let (tx, store) = self.tx(true)?;
        let done = completion_promise(&tx);
        let req = store.add(value).map_err(|e| storage_error(&e))?;
        *self.batch.borrow_mut() = Some((store, done.clone()));
        Ok((req, done))
    }
}

impl SpoolStore for IdbStore {
    async fn get(&self, id: &str) -> Result<Option<SpoolRecord>> {
        let (_tx, store) = self.tx(false)?;
        let v = request(&store.get(&JsValue::from_str(id)).map_err(|e| storage_error(&e))?).await?;
        if v.is_undefined() { Ok(None) } else { from_js(v).map(Some) }
    }

    async fn insert(&self, record: &SpoolRecord) -> Result<bool> {
        let (req, done) = self.batched_add(&to_js(record)?)?;
        let added = add_request(&req).await;
        // The transaction's outcome wins: when it aborts (QuotaExceededError, …) every insert in
        // it failed with that error, whatever its own request reported.
        JsFuture::from(done).await.map_err(|e| storage_error(&e))?;
        added
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
