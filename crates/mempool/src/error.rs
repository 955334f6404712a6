//! The crate's one error type.

use crate::SizeClass;

/// Why the pool or a scratch arena could not provide memory.
///
/// The enum is one machine word wide so `Result<(), PoolError>` stays cheap on hot paths.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PoolError {
    /// Every block of `class` is in use and the pool is configured with
    /// [`ExhaustedPolicy::Error`](crate::ExhaustedPolicy::Error).
    #[error(
        "memory pool class {class} is exhausted: all {capacity} blocks are in use; release \
         buffers sooner, raise the limit with `PoolConfig::class_capacity` or `PoolConfig::capacity`, \
         or use `ExhaustedPolicy::Heap` to fall back to the system allocator"
    )]
    Exhausted {
        /// The size class that has no free block.
        class: SizeClass,
        /// The configured capacity of that class, in blocks.
        capacity: u32,
    },
    /// The system allocator refused a buffer (a fresh block, an oversize buffer or the
    /// growth of one).
    #[error(
        "the system allocator could not provide the requested buffer; the request is too \
         large or the process is out of memory"
    )]
    OutOfMemory,
    /// A [`ScratchArena`](crate::ScratchArena) reached the allocation limit it was built with.
    #[error(
        "the scratch arena reached its allocation limit; raise it with \
         `ScratchArena::with_limit` or split the call's data"
    )]
    ScratchLimit,
}

#[cfg(test)]
mod tests {
    use super::PoolError;
    use crate::SizeClass;

    #[test]
    fn error_is_one_word() {
        assert!(size_of::<PoolError>() <= size_of::<usize>());
    }

    #[test]
    fn exhausted_message_is_actionable() {
        let err = PoolError::Exhausted {
            class: SizeClass::ALL[6],
            capacity: 8,
        };
        let msg = err.to_string();
        assert!(msg.contains("4 KiB"), "{msg}");
        assert!(msg.contains("all 8 blocks"), "{msg}");
        assert!(msg.contains("PoolConfig::class_capacity"), "{msg}");
        assert!(msg.contains("ExhaustedPolicy::Heap"), "{msg}");
    }
}
