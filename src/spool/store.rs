//! Where spool records live. The IndexedDB backend (wasm shell) and [`MemoryStore`] implement
//! the same trait and pass the same test suite ([`super::suite`]).

use super::record::SpoolRecord;
use crate::error::Result;
use std::cell::RefCell;
use std::collections::BTreeMap;

/// A durable map from message id to record. Every method is one atomic step: for IndexedDB, one
/// `readwrite` transaction on the `messages` object store that has completed before the future
/// resolves (durability "strict" for writes).
#[allow(async_fn_in_trait)]
pub trait SpoolStore {
    /// The record with this id.
    async fn get(&self, id: &str) -> Result<Option<SpoolRecord>>;
    /// Adds a new record; returns false (and writes nothing) if the id exists.
    async fn insert(&self, record: &SpoolRecord) -> Result<bool>;
    /// Atomic read-modify-write: `change` sees the current record and returns true to write it.
    /// Returns the written record, or None if absent or unchanged.
    async fn update(&self, id: &str, change: &mut dyn FnMut(&mut SpoolRecord) -> bool) -> Result<Option<SpoolRecord>>;
    /// Removes a record; returns whether it existed.
    async fn delete(&self, id: &str) -> Result<bool>;
    /// All records, in no particular order.
    async fn all(&self) -> Result<Vec<SpoolRecord>>;
}

/// In-memory store for native tests and for apps that do not want persistence.
#[derive(Debug, Default)]
pub struct MemoryStore {
    records: RefCell<BTreeMap<String, SpoolRecord>>,
}

impl SpoolStore for MemoryStore {
    async fn get(&self, id: &str) -> Result<Option<SpoolRecord>> {
        Ok(self.records.borrow().get(id).cloned())
    }

    async fn insert(&self, record: &SpoolRecord) -> Result<bool> {
        let mut map = self.records.borrow_mut();
        if map.contains_key(&record.id) {
            return Ok(false);
        }
        map.insert(record.id.clone(), record.clone());
        Ok(true)
    }

    async fn update(&self, id: &str, change: &mut dyn FnMut(&mut SpoolRecord) -> bool) -> Result<Option<SpoolRecord>> {
        let mut map = self.records.borrow_mut();
        let Some(current) = map.get(id) else { return Ok(None) };
        let mut next = current.clone();
        if !change(&mut next) {
            return Ok(None);
        }
        map.insert(id.to_string(), next.clone());
        Ok(Some(next))
    }

    async fn delete(&self, id: &str) -> Result<bool> {
        Ok(self.records.borrow_mut().remove(id).is_some())
    }

    async fn all(&self) -> Result<Vec<SpoolRecord>> {
        Ok(self.records.borrow().values().cloned().collect())
    }
}

impl<S: SpoolStore> SpoolStore for &S {
    async fn get(&self, id: &str) -> Result<Option<SpoolRecord>> {
        (**self).get(id).await
    }
    async fn insert(&self, record: &SpoolRecord) -> Result<bool> {
        (**self).insert(record).await
    }
    async fn update(&self, id: &str, change: &mut dyn FnMut(&mut SpoolRecord) -> bool) -> Result<Option<SpoolRecord>> {
        (**self).update(id, change).await
    }
    async fn delete(&self, id: &str) -> Result<bool> {
        (**self).delete(id).await
    }
    async fn all(&self) -> Result<Vec<SpoolRecord>> {
        (**self).all().await
    }
}
