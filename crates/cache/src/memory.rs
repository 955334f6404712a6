//! The in-memory layer: compiled modules, bounded by entry count and approximate bytes.

use std::collections::HashMap;

use parking_lot::Mutex;
use wasmtime::Module;

use crate::CacheKey;
use crate::index::{EvictionIndex, EvictionPolicy};

pub(crate) struct MemoryLayer {
    inner: Mutex<Inner>,
}

struct Inner {
    index: EvictionIndex<CacheKey>,
    modules: HashMap<CacheKey, Module>,
}

/// The approximate memory a module holds: its code image (text and read-only data).
pub(crate) fn module_size(module: &Module) -> u64 {
    let range = module.image_range();
    (range.end as usize).saturating_sub(range.start as usize) as u64
}

impl MemoryLayer {
    pub(crate) fn new(policy: EvictionPolicy, max_bytes: u64, max_entries: usize) -> Self {
        MemoryLayer {
            inner: Mutex::new(Inner {
                index: EvictionIndex::new(policy, max_bytes, max_entries),
                modules: HashMap::new(),
            }),
        }
    }

    pub(crate) fn get(&self, key: &CacheKey) -> Option<Module> {
        let mut inner = self.inner.lock();
        let module = inner.modules.get(key)?.clone();
        inner.index.touch(key);
        Some(module)
    }

    /// Whether `key` is held, without touching its recency.
    pub(crate) fn contains(&self, key: &CacheKey) -> bool {
        self.inner.lock().modules.contains_key(key)
    }

    /// Inserts a module; returns how many were evicted for it.
    pub(crate) fn insert(&self, key: CacheKey, module: Module) -> u64 {
        let size = module_size(&module);
        let mut inner = self.inner.lock();
        let insertion = inner.index.insert(key, size);
        for (victim, _) in &insertion.evicted {
            inner.modules.remove(victim);
        }
        if insertion.admitted {
            inner.modules.insert(key, module);
        }
        insertion.evicted.len() as u64
    }

    pub(crate) fn clear(&self) {
        let mut inner = self.inner.lock();
        inner.index.clear();
        inner.modules.clear();
    }

    /// Entries and bytes held.
    pub(crate) fn usage(&self) -> (usize, u64) {
        let inner = self.inner.lock();
        (inner.index.len(), inner.index.total_bytes())
    }
}
