//! Which one-time links have been used, durably: a redb database (`links.redb` in the state
//! directory) with one table, link id to "keep until" (unix seconds; `u64::MAX` for a link with
//! no expiry).
//!
//! redb serializes write transactions and fsyncs on commit, so [`LinkStore::consume`] is a
//! check-and-insert inside one write transaction: of two calls racing on a link exactly one
//! commits the insert, and once `consume` has returned `Ok` the mark survives a crash. The file is
//! locked while open, so a second process cannot open the same store.

use std::path::Path;

use redb::{Database, ReadableTable, ReadableTableMetadata, TableDefinition};

/// The store's file name inside the state directory.
pub const LINK_STORE_FILE: &str = "links.redb";
const USED: TableDefinition<'_, &str, u64> = TableDefinition::new("used_links");
/// redb's page cache; the table is tiny.
const CACHE_BYTES: usize = 4 << 20;

/// The store failed (I/O, corruption, locked by another process).
#[derive(Debug, thiserror::Error)]
#[error("link store: {0}")]
pub struct StoreError(Box<redb::Error>);

fn db_err(e: impl Into<redb::Error>) -> StoreError {
    StoreError(Box::new(e.into()))
}

/// Why [`LinkStore::consume`] did not mark a link.
#[derive(Debug, thiserror::Error)]
pub enum ConsumeError {
    /// It was marked before: this call must not connect.
    #[error("link already used")]
    AlreadyUsed,
    /// The store failed; treat the link as not consumable (fail closed).
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The durable set of consumed one-time link ids.
pub struct LinkStore {
    db: Database,
}

impl std::fmt::Debug for LinkStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinkStore").finish_non_exhaustive()
    }
}

impl LinkStore {
    /// Opens (or creates) the store file.
    pub fn open(path: &Path) -> Result<LinkStore, StoreError> {
        let db = Database::builder()
            .set_cache_size(CACHE_BYTES)
            // The format redb 3 reads too, so a later upgrade needs no migration.
            .create_with_file_format_v3(true)
            .create(path)
            .map_err(db_err)?;
        // Create the table up front so readers never see "no such table".
        let txn = db.begin_write().map_err(db_err)?;
        txn.open_table(USED).map_err(db_err)?;
        txn.commit().map_err(db_err)?;
        Ok(LinkStore { db })
    }

    /// Opens the store in the state directory.
    pub fn open_in(state_dir: &Path) -> Result<LinkStore, StoreError> {
        Self::open(&state_dir.join(LINK_STORE_FILE))
    }

    /// Marks link `id` used, atomically and durably (fsync before returning `Ok`).
    /// `keep_until` is the link's `not_after` (none: forever): [`LinkStore::prune`] may forget the
    /// mark after it, when the link is refused as expired anyway.
    pub fn consume(&self, id: &str, keep_until: Option<u64>) -> Result<(), ConsumeError> {
        let txn = self.db.begin_write().map_err(db_err)?;
        let fresh = {
            let mut table = txn.open_table(USED).map_err(db_err)?;
            let fresh = table.get(id).map_err(db_err)?.is_none();
            if fresh {
                let until = keep_until.unwrap_or(u64::MAX);
                table.insert(id, until).map_err(db_err)?;
            }
            fresh
        };
        if !fresh {
            txn.abort().map_err(db_err)?;
            return Err(ConsumeError::AlreadyUsed);
        }
        txn.commit().map_err(db_err)?;
        Ok(())
    }

    /// Whether link `id` was consumed.
    pub fn is_used(&self, id: &str) -> Result<bool, StoreError> {
        let txn = self.db.begin_read().map_err(db_err)?;
        let table = txn.open_table(USED).map_err(db_err)?;
        Ok(table.get(id).map_err(db_err)?.is_some())
    }

    /// Forgets the marks of links whose `not_after` is before `now_unix` (they are refused as
    /// expired anyway); returns how many. Run it now and then (daily is plenty).
    pub fn prune(&self, now_unix: u64) -> Result<usize, StoreError> {
        let txn = self.db.begin_write().map_err(db_err)?;
        let removed = {
            let mut table = txn.open_table(USED).map_err(db_err)?;
            let before = table.len().map_err(db_err)?;
            table.retain(|_, until| until >= now_unix).map_err(db_err)?;
            before - table.len().map_err(db_err)?
        };
        txn.commit().map_err(db_err)?;
        Ok(removed as usize)
    }
}
