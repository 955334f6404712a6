//! [`PooledBuf`]: the RAII buffer handle.

use std::fmt;
use std::io;
use std::ops::{
    Deref, DerefMut, Index, IndexMut, Range, RangeFrom, RangeFull, RangeInclusive, RangeTo,
    RangeToInclusive,
};
use std::slice::SliceIndex;

use crate::pool::{Source, release};
use crate::{MemoryPool, PoolError, SizeClass};

#[cfg(test)]
mod tests;

/// A byte buffer from a [`MemoryPool`]; it returns to its class when dropped.
///
/// It derefs to `[u8]` of [`len`](Self::len) bytes and grows like a `Vec<u8>`: within its
/// [`capacity`](Self::capacity) (the class size) in place, beyond it by moving to a larger
/// class (or to the system allocator past [`SizeClass::MAX_SIZE`]) and returning the old
/// block. Growth goes through the pool, so it is fallible: it returns
/// [`PoolError::Exhausted`] under [`ExhaustedPolicy::Error`](crate::ExhaustedPolicy::Error).
///
/// The handle owns its block outright, so a block can be neither freed twice nor used after
/// it went back to the pool. Leaking a handle (`mem::forget`) keeps its block counted against
/// the class capacity for the life of the pool.
///
/// It implements [`std::io::Write`], so serializers can write into it directly:
///
/// ```
/// use std::io::Write;
/// use wasm_sandbox_mempool::MemoryPool;
///
/// let pool = MemoryPool::default();
/// let mut buf = pool.with_capacity(16)?;
/// write!(buf, "{{\"x\":{}}}", 42).expect("the pool falls back to the heap by default");
/// assert_eq!(&buf[..], br#"{"x":42}"#);
/// # Ok::<(), wasm_sandbox_mempool::PoolError>(())
/// ```
pub struct PooledBuf {
    block: Box<[u8]>,
    len: usize,
    /// The bytes of `block` that may hold data, `dirty.start..dirty.end` (empty when
    /// `start >= end`): the low- and high-water marks of bytes written by growth, through
    /// indexing, or exposed by `DerefMut`. Bounds the zeroing on release, so a 64 KiB block of
    /// which 100 bytes were written costs a 100-byte `memset`, and a zeroed `alloc` that was
    /// only read costs none.
    dirty: Range<usize>,
    /// `Some` when `block` belongs to that class and returns to it on drop; `None` for heap
    /// buffers (oversize, or a refused class under `ExhaustedPolicy::Heap`).
    class: Option<SizeClass>,
    /// `Some` until the buffer drops, when the handle goes back with the block (to be reused
    /// by the next buffer of this thread without touching the reference count).
    pool: Option<MemoryPool>,
}

impl PooledBuf {
    #[inline]
    pub(crate) fn new(
        pool: MemoryPool,
        block: Box<[u8]>,
        len: usize,
        dirty: Range<usize>,
        class: SizeClass,
        source: Source,
    ) -> Self {
        debug_assert!(len <= block.len());
        PooledBuf {
            block,
            len,
            dirty,
            class: (source != Source::Heap).then_some(class),
            pool: Some(pool),
        }
    }

    pub(crate) fn heap(pool: MemoryPool, block: Box<[u8]>, len: usize) -> Self {
        debug_assert!(len <= block.len());
        PooledBuf {
            block,
            len,
            dirty: 0..len,
            class: None,
            pool: Some(pool),
        }
    }

    /// The number of bytes in the buffer.
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the buffer holds no bytes.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// How many bytes the buffer holds without reallocating: the class size for pool-sized
    /// buffers.
    #[inline]
    pub fn capacity(&self) -> usize {
        self.block.len()
    }

    /// The class this buffer's block returns to when dropped, or `None` if it came from the
    /// system allocator (oversize, or a refused class under
    /// [`ExhaustedPolicy::Heap`](crate::ExhaustedPolicy::Heap)).
    #[inline]
    pub fn class(&self) -> Option<SizeClass> {
        self.class
    }

    /// The bytes, as a slice (same as deref).
    #[inline]
    pub fn as_slice(&self) -> &[u8] {
        &self.block[..self.len]
    }

    /// The bytes, as a mutable slice (same as deref).
    #[inline]
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        // The caller may write any of these bytes.
        self.mark_dirty(0, self.len);
        &mut self.block[..self.len]
    }

    /// The pool this buffer came from (and returns to).
    pub fn pool(&self) -> &MemoryPool {
        self.pool
            .as_ref()
            .expect("the handle is only taken by drop")
    }

    /// Removes every byte; the capacity is kept.
    #[inline]
    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// Shortens the buffer to `len` bytes; does nothing if it is already shorter.
    #[inline]
    pub fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
    }

    /// Makes room for at least `additional` more bytes.
    ///
    /// Within the capacity this does nothing. Otherwise the bytes move to a block of the
    /// smallest class that fits `len() + additional` (which at least doubles the capacity),
    /// taken from the pool like an allocation, and the old block returns to its class. Past
    /// [`SizeClass::MAX_SIZE`] the buffer moves to the system allocator with
    /// `max(needed, 2 × capacity)` bytes.
    ///
    /// # Errors
    ///
    /// As for [`MemoryPool::alloc`]; [`PoolError::OutOfMemory`] also if
    /// `len() + additional` overflows `usize`. On error the buffer is unchanged.
    #[inline]
    pub fn reserve(&mut self, additional: usize) -> Result<(), PoolError> {
        let needed = self
            .len
            .checked_add(additional)
            .ok_or(PoolError::OutOfMemory)?;
        if needed <= self.capacity() {
            return Ok(());
        }
        self.grow(needed)
    }

    #[cold]
    fn grow(&mut self, needed: usize) -> Result<(), PoolError> {
        let pool = self.pool();
        let (mut block, class, handle) = match SizeClass::for_len(needed) {
            Some(class) => {
                let (block, source, handle) = pool.acquire(class)?;
                (block, (source != Source::Heap).then_some(class), handle)
            }
            None => {
                let doubled = self.capacity().saturating_mul(2);
                let block = pool.inner.oversize(needed.max(doubled))?;
                (block, None, pool.clone())
            }
        };
        // Bytes past `len` in `block` may be stale (an idle block when the pool does not zero
        // on release), but they are never exposed: every growth path writes them first.
        block[..self.len].copy_from_slice(&self.block[..self.len]);
        let old = std::mem::replace(&mut self.block, block);
        if let Some(old_class) = std::mem::replace(&mut self.class, class) {
            release(handle, old_class, old, self.dirty.clone());
        }
        // The new block holds the copied bytes; anything else in it is zero (or stale
        // from an earlier user and never exposed, when the pool does not zero on release).
        self.dirty = 0..self.len;
        Ok(())
    }

    /// Appends `data`, growing as [`reserve`](Self::reserve) does.
    ///
    /// # Errors
    ///
    /// As for [`reserve`](Self::reserve); on error the buffer is unchanged.
    #[inline]
    pub fn extend_from_slice(&mut self, data: &[u8]) -> Result<(), PoolError> {
        self.reserve(data.len())?;
        let end = self.len + data.len();
        self.block[self.len..end].copy_from_slice(data);
        self.set_len_written(end);
        Ok(())
    }

    /// Appends one byte, growing as [`reserve`](Self::reserve) does.
    ///
    /// # Errors
    ///
    /// As for [`reserve`](Self::reserve); on error the buffer is unchanged.
    pub fn push(&mut self, byte: u8) -> Result<(), PoolError> {
        self.extend_from_slice(&[byte])
    }

    /// Resizes to `new_len` bytes: shrinking truncates, growing appends copies of `value`
    /// (growing as [`reserve`](Self::reserve) does).
    ///
    /// # Errors
    ///
    /// As for [`reserve`](Self::reserve); on error the buffer is unchanged.
    pub fn resize(&mut self, new_len: usize, value: u8) -> Result<(), PoolError> {
        if new_len <= self.len {
            self.truncate(new_len);
            return Ok(());
        }
        self.reserve(new_len - self.len)?;
        self.block[self.len..new_len].fill(value);
        self.set_len_written(new_len);
        Ok(())
    }

    /// Copies the bytes into a new `Vec<u8>`; the buffer stays in the pool's books.
    pub fn to_vec(&self) -> Vec<u8> {
        self.as_slice().to_vec()
    }

    /// Sets `len` after `block[self.len..len]` has been written.
    #[inline]
    fn set_len_written(&mut self, len: usize) {
        self.mark_dirty(self.len, len);
        self.len = len;
    }

    /// Widens the dirty range to cover `start..end` (which lies within `block`).
    #[inline]
    fn mark_dirty(&mut self, start: usize, end: usize) {
        if start < end {
            if self.dirty.start >= self.dirty.end {
                self.dirty = start..end;
            } else {
                self.dirty = self.dirty.start.min(start)..self.dirty.end.max(end);
            }
        }
    }
}

impl Drop for PooledBuf {
    fn drop(&mut self) {
        if let Some(class) = self.class
            && let Some(pool) = self.pool.take()
        {
            // An empty boxed slice does not allocate.
            let block = std::mem::take(&mut self.block);
            release(pool, class, block, self.dirty.clone());
        }
    }
}

impl Deref for PooledBuf {
    type Target = [u8];

    #[inline]
    fn deref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl DerefMut for PooledBuf {
    #[inline]
    fn deref_mut(&mut self) -> &mut [u8] {
        self.as_mut_slice()
    }
}

impl AsRef<[u8]> for PooledBuf {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl AsMut<[u8]> for PooledBuf {
    fn as_mut(&mut self) -> &mut [u8] {
        self
    }
}

impl fmt::Debug for PooledBuf {
    /// Shows the shape of the buffer, never its bytes (they may be a tenant's data).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PooledBuf")
            .field("len", &self.len)
            .field("capacity", &self.capacity())
            .field("class", &self.class)
            .finish_non_exhaustive()
    }
}

impl io::Write for PooledBuf {
    /// Appends all of `data`.
    ///
    /// # Errors
    ///
    /// [`io::ErrorKind::OutOfMemory`] wrapping the [`PoolError`] if the buffer cannot grow.
    ///
    /// Serializers write in small pieces (serde_json: each number, each comma), so the
    /// common case, room left in the block, is inlined and does no more than `Vec` would.
    #[inline]
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.write_all(data).map(|()| data.len())
    }

    #[inline]
    fn write_all(&mut self, data: &[u8]) -> io::Result<()> {
        self.extend_from_slice(data)
            .map_err(|e| io::Error::new(io::ErrorKind::OutOfMemory, e))
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Index types whose written bytes [`PooledBuf`]'s `IndexMut` can bound, so that writing one
/// byte of a large zeroed buffer makes only that byte dirty.
pub trait WriteBounds: SliceIndex<[u8]> {
    /// The range of bytes, within `0..len`, that indexing a `len`-byte slice with `self` can
    /// reach.
    fn bounds(&self, len: usize) -> (usize, usize);
}

impl WriteBounds for usize {
    fn bounds(&self, len: usize) -> (usize, usize) {
        ((*self).min(len), self.saturating_add(1).min(len))
    }
}

impl WriteBounds for Range<usize> {
    fn bounds(&self, len: usize) -> (usize, usize) {
        (self.start.min(len), self.end.min(len))
    }
}

impl WriteBounds for RangeFrom<usize> {
    fn bounds(&self, len: usize) -> (usize, usize) {
        (self.start.min(len), len)
    }
}

impl WriteBounds for RangeTo<usize> {
    fn bounds(&self, len: usize) -> (usize, usize) {
        (0, self.end.min(len))
    }
}

impl WriteBounds for RangeInclusive<usize> {
    fn bounds(&self, len: usize) -> (usize, usize) {
        (
            (*self.start()).min(len),
            self.end().saturating_add(1).min(len),
        )
    }
}

impl WriteBounds for RangeToInclusive<usize> {
    fn bounds(&self, len: usize) -> (usize, usize) {
        (0, self.end.saturating_add(1).min(len))
    }
}

impl WriteBounds for RangeFull {
    fn bounds(&self, len: usize) -> (usize, usize) {
        (0, len)
    }
}

impl<I: WriteBounds> Index<I> for PooledBuf {
    type Output = I::Output;

    #[inline]
    fn index(&self, index: I) -> &I::Output {
        &self.as_slice()[index]
    }
}

impl<I: WriteBounds> IndexMut<I> for PooledBuf {
    /// Indexes like a slice, and marks only the indexed bytes as written (see
    /// [`PoolConfig::zero_on_release`](crate::PoolConfig::zero_on_release)).
    #[inline]
    fn index_mut(&mut self, index: I) -> &mut I::Output {
        let (start, end) = index.bounds(self.len);
        self.mark_dirty(start, end);
        &mut self.block[..self.len][index]
    }
}
