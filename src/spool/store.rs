//! Where spool records live. The IndexedDB backend (wasm shell) and [`MemoryStore`] implement
//! the same trait and pass the same test suite ([`super::suite`]).

use super::record::SpoolRecord;
use crate::error::Result;
use std::cell::RefCell;
use std::collections::BTreeMap;

/// A durable map from message id to record. Every method is one atomic step: for IndexedDB, one
/// transaction on the `spool` object store that has completed before the future resolves
/// (durability "strict" for writes).
#[allow(async_fn_in_trait)]
pub trait SpoolStore {
    /// The record with this id, whoever its sender (the engine checks ownership).
    async fn get(&self, id: &str) -> Result<Option<SpoolRecord>>;
    /// Adds a new record with the next sequence number (greater than every stored record's
    /// `seq`, assigned in the same atomic step) and returns that number; returns None (and writes
    /// nothing) if the id exists.
    async fn insert(&self, record: &SpoolRecord) -> Result<Option<u64>>;
    /// Atomic read-modify-write: `change` sees the current record and returns true to write it.
    /// Returns the written record, or None if absent or unchanged.
    async fn update(&self, id: &str, change: &mut dyn FnMut(&mut SpoolRecord) -> bool) -> Result<Option<SpoolRecord>>;
    /// [`SpoolStore::update`] of several records in one atomic step (for IndexedDB, one
    /// transaction): `change(i, record)` sees `ids[i]`'s current record, in the order of `ids`
    /// (absent ids are skipped), and returns true to write it. Returns, per id, the written
    /// record or None. A batch is claimed and settled this way: one transaction, not one per
    /// message.
    async fn update_many(&self, ids: &[String], change: &mut dyn FnMut(usize, &mut SpoolRecord) -> bool) -> Result<Vec<Option<SpoolRecord>>>;
    /// Removes a record; returns whether it existed.
    async fn delete(&self, id: &str) -> Result<bool>;
    /// All records of `sender` (normalised address), in no particular order. Other senders'
    /// records are not read.
    async fn all(&self, sender: &str) -> Result<Vec<SpoolRecord>>;
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

    async fn insert(&self, record: &SpoolRecord) -> Result<Option<u64>> {
        let mut map = self.records.borrow_mut();
        if map.contains_key(&record.id) {
            return Ok(None);
        }
        let seq = map.values().map(|r| r.seq).max().unwrap_or(0) + 1;
        map.insert(record.id.clone(), SpoolRecord { seq, ..record.clone() });
        Ok(Some(seq))
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

    async fn update_many(&self, ids: &[String], change: &mut dyn FnMut(usize, &mut SpoolRecord) -> bool) -> Result<Vec<Option<SpoolRecord>>> {
        let mut map = self.records.borrow_mut();
        let mut written = Vec::with_capacity(ids.len());
        for (i, id) in ids.iter().enumerate() {
            let next = map.get(id).cloned().and_then(|mut r| change(i, &mut r).then_some(r));
            if let Some(r) = &next {
                map.insert(id.clone(), r.clone());
            }
            written.push(next);
        }
        Ok(written)
    }

    async fn delete(&self, id: &str) -> Result<bool> {
        Ok(self.records.borrow_mut().remove(id).is_some())
    }

    async fn all(&self, sender: &str) -> Result<Vec<SpoolRecord>> {
        Ok(self.records.borrow().values().filter(|r| r.sender == sender).cloned().collect())
    }
}

impl<S: SpoolStore> SpoolStore for &S {
    async fn get(&self, id: &str) -> Result<Option<SpoolRecord>> {
        (**self).get(id).await
    }
    async fn insert(&self, record: &SpoolRecord) -> Result<Option<u64>> {
        (**self).insert(record).await
    }
    async fn update(&self, id: &str, change: &mut dyn FnMut(&mut SpoolRecord) -> bool) -> Result<Option<SpoolRecord>> {
        (**self).update(id, change).await
    }
    async fn update_many(&self, ids: &[String], change: &mut dyn FnMut(usize, &mut SpoolRecord) -> bool) -> Result<Vec<Option<SpoolRecord>>> {
        (**self).update_many(ids, change).await
    }
    async fn delete(&self, id: &str) -> Result<bool> {
        (**self).delete(id).await
    }
    async fn all(&self, sender: &str) -> Result<Vec<SpoolRecord>> {
        (**self).all(sender).await
    }
}
