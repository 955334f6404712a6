//! The guest ABI for byte and serde calls (see `docs/abi.md`).
//!
//! A guest that takes byte or serde calls exports:
//!
//! * `memory`: its linear memory;
//! * `sandbox_alloc(len: i32) -> i32`: returns a pointer to `len` writable bytes;
//! * `sandbox_free(ptr: i32, len: i32)`: releases a block from `sandbox_alloc`
//!   or a result block;
//! * each callable export as `f(ptr: i32, len: i32) -> i64`.
//!
//! The host allocates the argument block, writes the encoded arguments, calls
//! `f`, and frees the argument block after `f` returns. `f` returns its
//! result block packed as `(ptr << 32) | len`; ownership of that block passes
//! to the host, which copies it out and frees it. If bit 31 of `len` is set,
//! the block holds a UTF-8 error message of `len & 0x7fff_ffff` bytes instead
//! of a result.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::bounded::{self, DecodeError, Limits};
use crate::error::{Error, Result};

/// Name of the guest's allocation export.
pub const ALLOC_EXPORT: &str = "sandbox_alloc";
/// Name of the guest's release export.
pub const FREE_EXPORT: &str = "sandbox_free";
/// Name of the guest's memory export.
pub const MEMORY_EXPORT: &str = "memory";
/// Bit of the result length that marks an error message.
pub const ERROR_FLAG: u32 = 0x8000_0000;

/// How serde values are encoded into bytes for the guest.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[non_exhaustive]
pub enum Codec {
    /// JSON (`serde_json`): readable, and every guest language has a parser.
    /// The default.
    #[default]
    Json,
    /// Postcard: compact binary (varints, no field names).
    Postcard,
}

impl Codec {
    /// The codec's name.
    pub fn name(self) -> &'static str {
        match self {
            Codec::Json => "json",
            Codec::Postcard => "postcard",
        }
    }

    /// Encodes a value, appending to `out`.
    ///
    /// # Errors
    ///
    /// [`Error::Codec`] if the value cannot be represented (e.g. a map with
    /// non-string keys in JSON).
    pub fn encode_into<T: Serialize + ?Sized>(self, value: &T, out: &mut Vec<u8>) -> Result<()> {
        match self {
            Codec::Json => serde_json::to_writer(&mut *out, value).map_err(|e| self.err(e)),
            Codec::Postcard => {
                let bytes =
                    postcard::to_extend(value, std::mem::take(out)).map_err(|e| self.err(e))?;
                *out = bytes;
                Ok(())
            }
        }
    }

    /// Encodes a value into any writer (e.g. a pooled host buffer).
    ///
    /// # Errors
    ///
    /// [`Error::Codec`] if the value cannot be represented or the writer
    /// fails.
    pub fn encode_to_writer<T: Serialize + ?Sized, W: std::io::Write>(
        self,
        value: &T,
        out: W,
    ) -> Result<()> {
        match self {
            Codec::Json => serde_json::to_writer(out, value).map_err(|e| self.err(e)),
            Codec::Postcard => postcard::to_io(value, out)
                .map(drop)
                .map_err(|e| self.err(e)),
        }
    }

    /// Encodes a value.
    ///
    /// # Errors
    ///
    /// [`Error::Codec`] if the value cannot be represented.
    pub fn encode<T: Serialize + ?Sized>(self, value: &T) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        self.encode_into(value, &mut out)?;
        Ok(out)
    }

    /// Decodes a value.
    ///
    /// The bytes are untrusted (a guest wrote them), so the decode is
    /// bounded (`bounded.rs`; `docs/abi.md`, "Bounds"): at most 128 nested
    /// compound values, so no input can overflow the host's stack, and at
    /// most `bytes.len() + 4096` sequence elements and map entries, so no
    /// length prefix can make postcard loop over billions of zero-sized
    /// elements or preallocate for them. serde_json's own recursion limit
    /// (127 arrays and objects) stays on. Honest values are not refused
    /// unless they nest 128 deep or hold more than 2048 elements of
    /// zero-sized types (a long `Vec<()>`). What a decoded value costs in
    /// host memory per byte depends on `T`: see the table in `docs/abi.md`.
    ///
    /// # Errors
    ///
    /// [`Error::Codec`] if the bytes are not a valid encoding of `T`, or if
    /// they exceed a bound (the reason then starts with "depth limit
    /// exceeded" or "element budget exceeded").
    pub fn decode<T: DeserializeOwned>(self, bytes: &[u8]) -> Result<T> {
        let limits = Limits::for_input(bytes.len());
        match self {
            Codec::Json => {
                let mut de = serde_json::Deserializer::from_slice(bytes);
                let value = bounded::deserialize(&mut de, limits).map_err(|e| match e {
                    // serde_json knows the position of most, not all, errors.
                    DecodeError::Bound(bound, e) if e.line() > 0 => self.err(format_args!(
                        "{bound} at line {} column {}",
                        e.line(),
                        e.column()
                    )),
                    DecodeError::Bound(bound, _) => self.err(bound),
                    DecodeError::Format(e) => self.err(e),
                })?;
                de.end().map_err(|e| self.err(e))?;
                Ok(value)
            }
            Codec::Postcard => {
                let mut de = postcard::Deserializer::from_bytes(bytes);
                bounded::deserialize(&mut de, limits).map_err(|e| match e {
                    // postcard's custom errors carry no message: say it here.
                    DecodeError::Bound(bound, _) => self.err(bound),
                    DecodeError::Format(e) => self.err(e),
                })
            }
        }
    }

    fn err(self, e: impl std::fmt::Display) -> Error {
        Error::Codec {
            codec: self.name(),
            reason: e.to_string().into(),
        }
    }
}

/// Splits a packed result into `(ptr, len, is_error)`.
#[inline]
pub fn unpack_result(packed: i64) -> (u32, u32, bool) {
    let packed = packed as u64;
    let ptr = (packed >> 32) as u32;
    let raw_len = packed as u32;
    (ptr, raw_len & !ERROR_FLAG, raw_len & ERROR_FLAG != 0)
}

/// Packs a result block, as a guest would.
#[inline]
pub fn pack_result(ptr: u32, len: u32, is_error: bool) -> i64 {
    let len = if is_error { len | ERROR_FLAG } else { len };
    (((ptr as u64) << 32) | len as u64) as i64
}

/// Checks that `[ptr, ptr+len)` lies inside a memory of `size` bytes.
#[inline]
pub(crate) fn check_range(
    ptr: u32,
    len: u32,
    size: usize,
    what: &str,
) -> Result<std::ops::Range<usize>> {
    let start = ptr as usize;
    let end = start
        .checked_add(len as usize)
        .filter(|&end| end <= size)
        .ok_or_else(|| {
            Error::abi(format!(
                "{what} block [{start:#x}, +{len}) lies outside the guest's {size}-byte memory"
            ))
        })?;
    Ok(start..end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn pack_unpack_roundtrip(ptr: u32, len in 0u32..ERROR_FLAG, err: bool) {
            prop_assert_eq!(unpack_result(pack_result(ptr, len, err)), (ptr, len, err));
        }

        #[test]
        fn codecs_roundtrip(v: Vec<i32>, s: String) {
            for codec in [Codec::Json, Codec::Postcard] {
                let bytes = codec.encode(&(v.clone(), s.clone())).unwrap();
                let back: (Vec<i32>, String) = codec.decode(&bytes).unwrap();
                prop_assert_eq!(&back, &(v.clone(), s.clone()));
            }
        }

        #[test]
        fn range_check_never_panics(ptr: u32, len: u32, size in 0usize..1 << 33) {
            if let Ok(r) = check_range(ptr, len, size, "x") {
                prop_assert!(r.end <= size);
                prop_assert_eq!(r.end - r.start, len as usize);
            }
        }

        #[test]
        fn decoding_garbage_is_an_error_not_a_panic(bytes: Vec<u8>) {
            let _ = Codec::Json.decode::<Vec<i32>>(&bytes);
            let _ = Codec::Postcard.decode::<Vec<i32>>(&bytes);
        }
    }
}
