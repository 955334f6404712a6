//! The embedder's declaration of which exports are pure.

use std::collections::BTreeSet;
use std::sync::Arc;

/// The set of exports the embedder declares **pure**: same module + same arguments ⇒ same result,
/// with no observable side effects.
///
/// Purity is never guessed. A WebAssembly guest can keep state in its linear memory, its globals
/// and its tables, and change that state on every call: a `counter()` export returns a different
/// value each time although its arguments never change. Only the embedder knows whether an
/// export is a pure function of its arguments, so only exports listed here are memoized; every
/// other export runs on every call.
///
/// Declaring an export pure is a promise that it does not depend on, or modify, state that
/// outlives a call (guest memory/globals, host functions with side effects, clocks, randomness).
/// Breaking the promise yields stale results, never memory unsafety.
///
/// ```
/// use wasm_sandbox_callopt::Purity;
///
/// let purity = Purity::new().with("fib").with("sha256");
/// assert!(purity.is_pure("fib"));
/// assert!(!purity.is_pure("counter"));
/// ```
#[derive(Debug, Clone, Default)]
pub struct Purity {
    exports: BTreeSet<Arc<str>>,
}

impl Purity {
    /// An empty registry: nothing is memoized.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Declares `export` pure and returns the registry (builder style).
    #[must_use]
    pub fn with(mut self, export: impl AsRef<str>) -> Self {
        self.insert(export);
        self
    }

    /// Declares `export` pure. Returns `false` if it was already declared.
    pub fn insert(&mut self, export: impl AsRef<str>) -> bool {
        let export = export.as_ref();
        if self.exports.contains(export) {
            return false;
        }
        self.exports.insert(Arc::from(export))
    }

    /// Withdraws the declaration for `export`. Returns `true` if it was declared.
    ///
    /// Results already memoized for `export` stay cached until they expire or are evicted; use
    /// [`CallOptimizer::invalidate_export`](crate::CallOptimizer::invalidate_export) to drop them.
    pub fn remove(&mut self, export: &str) -> bool {
        self.exports.remove(export)
    }

    /// Whether `export` was declared pure.
    #[must_use]
    pub fn is_pure(&self, export: &str) -> bool {
        self.exports.contains(export)
    }

    /// The interned name of a pure export, or `None` if `export` is not declared pure.
    pub(crate) fn interned(&self, export: &str) -> Option<&Arc<str>> {
        self.exports.get(export)
    }

    /// The number of exports declared pure.
    #[must_use]
    pub fn len(&self) -> usize {
        self.exports.len()
    }

    /// Whether no export is declared pure.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.exports.is_empty()
    }

    /// The exports declared pure, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.exports.iter().map(|s| &**s)
    }
}

impl<S: AsRef<str>> FromIterator<S> for Purity {
    fn from_iter<I: IntoIterator<Item = S>>(iter: I) -> Self {
        let mut purity = Self::new();
        for export in iter {
            purity.insert(export);
        }
        purity
    }
}

impl<S: AsRef<str>> Extend<S> for Purity {
    fn extend<I: IntoIterator<Item = S>>(&mut self, iter: I) {
        for export in iter {
            self.insert(export);
        }
    }
}
