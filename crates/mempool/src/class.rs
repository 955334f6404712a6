//! Size classes: the power-of-two block sizes the pool keeps, from 64 B to 64 KiB.

use std::fmt;

/// One of the pool's block sizes: 64 B, 128 B, 256 B, ..., 64 KiB (powers of two).
///
/// A request of `len` bytes is served from the smallest class whose size is at least `len`
/// ([`SizeClass::for_len`]); requests above [`SizeClass::MAX_SIZE`] bypass the pool.
///
/// ```
/// use wasm_sandbox_mempool::SizeClass;
///
/// let class = SizeClass::for_len(100).expect("100 B fits in a class");
/// assert_eq!(class.size(), 128);
/// assert_eq!(SizeClass::for_len(0).map(SizeClass::size), Some(64));
/// assert_eq!(SizeClass::for_len(64 * 1024 + 1), None);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SizeClass(u8);

impl SizeClass {
    /// The size of the smallest class, in bytes.
    pub const MIN_SIZE: usize = 1 << MIN_SHIFT;
    /// The size of the largest class, in bytes. Larger requests fall back to the system allocator.
    pub const MAX_SIZE: usize = 1 << MAX_SHIFT;
    /// The number of classes.
    pub const COUNT: usize = (MAX_SHIFT - MIN_SHIFT + 1) as usize;
    /// Every class, smallest first.
    pub const ALL: [SizeClass; Self::COUNT] = {
        let mut all = [SizeClass(0); Self::COUNT];
        let mut i = 0;
        while i < Self::COUNT {
            all[i] = SizeClass(i as u8);
            i += 1;
        }
        all
    };

    /// The smallest class that holds `len` bytes, or `None` if `len > SizeClass::MAX_SIZE`.
    ///
    /// A zero-length request is served from the smallest class.
    #[inline]
    pub const fn for_len(len: usize) -> Option<SizeClass> {
        if len > Self::MAX_SIZE {
            return None;
        }
        if len <= Self::MIN_SIZE {
            return Some(SizeClass(0));
        }
        // `len` is in (64, 65536], so `next_power_of_two` cannot overflow and its log2 is in
        // (MIN_SHIFT, MAX_SHIFT].
        let shift = len.next_power_of_two().trailing_zeros();
        Some(SizeClass((shift - MIN_SHIFT) as u8))
    }

    /// The class whose block size is exactly `size`, or `None` if `size` is not a class size.
    #[inline]
    pub const fn from_size(size: usize) -> Option<SizeClass> {
        if !size.is_power_of_two() || size < Self::MIN_SIZE || size > Self::MAX_SIZE {
            return None;
        }
        Some(SizeClass((size.trailing_zeros() - MIN_SHIFT) as u8))
    }

    /// The class at `index` in [`SizeClass::ALL`], or `None` if `index >= SizeClass::COUNT`.
    #[inline]
    pub const fn from_index(index: usize) -> Option<SizeClass> {
        if index < Self::COUNT {
            Some(SizeClass(index as u8))
        } else {
            None
        }
    }

    /// The block size of this class, in bytes.
    #[inline]
    pub const fn size(self) -> usize {
        Self::MIN_SIZE << self.0
    }

    /// The position of this class in [`SizeClass::ALL`] (0 for 64 B).
    #[inline]
    pub const fn index(self) -> usize {
        self.0 as usize
    }
}

const MIN_SHIFT: u32 = 6;
const MAX_SHIFT: u32 = 16;

impl fmt::Debug for SizeClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SizeClass({})", self)
    }
}

impl fmt::Display for SizeClass {
    /// Formats the block size: `64 B`, `512 B`, `1 KiB`, ..., `64 KiB`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let size = self.size();
        if size >= 1024 {
            write!(f, "{} KiB", size / 1024)
        } else {
            write!(f, "{size} B")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::SizeClass;

    #[test]
    fn classes_are_the_powers_of_two_from_64_to_64k() {
        let sizes: Vec<usize> = SizeClass::ALL.iter().map(|c| c.size()).collect();
        assert_eq!(
            sizes,
            [
                64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536
            ]
        );
        for (i, class) in SizeClass::ALL.into_iter().enumerate() {
            assert_eq!(class.index(), i);
            assert_eq!(SizeClass::from_index(i), Some(class));
            assert_eq!(SizeClass::from_size(class.size()), Some(class));
        }
        assert_eq!(SizeClass::from_index(SizeClass::COUNT), None);
    }

    #[test]
    fn for_len_picks_the_smallest_fitting_class() {
        for len in 0..=SizeClass::MAX_SIZE + 1 {
            match SizeClass::for_len(len) {
                Some(class) => {
                    assert!(class.size() >= len);
                    assert!(class.index() == 0 || class.size() / 2 < len, "len {len}");
                }
                None => assert!(len > SizeClass::MAX_SIZE),
            }
        }
        assert_eq!(SizeClass::for_len(usize::MAX), None);
    }

    #[test]
    fn from_size_rejects_non_classes() {
        for size in [0, 1, 32, 63, 65, 100, 96, 1 << 17, usize::MAX] {
            assert_eq!(SizeClass::from_size(size), None, "{size}");
        }
    }

    #[test]
    fn display_is_human() {
        assert_eq!(SizeClass::ALL[0].to_string(), "64 B");
        assert_eq!(SizeClass::ALL[4].to_string(), "1 KiB");
        assert_eq!(format!("{:?}", SizeClass::ALL[10]), "SizeClass(64 KiB)");
    }
}
