//! The typed convenience layer: encode arguments and results with a caller-chosen serde codec.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::CodecError;

/// A serde codec chosen by the caller (JSON, postcard, bincode, ...), used by
/// [`CallOptimizer::call_typed`](crate::CallOptimizer::call_typed) to build memo keys from
/// typed arguments and to store typed results as bytes.
///
/// The encoding of arguments should be **canonical**: equal values must encode to equal bytes,
/// or equal calls will miss (never return a wrong result). Beware of maps with unspecified
/// iteration order (`HashMap`); prefer `BTreeMap` in argument types.
///
/// ```
/// use wasm_sandbox_callopt::{Codec, CodecError};
///
/// struct Json;
///
/// impl Codec for Json {
///     fn encode<T: serde::Serialize + ?Sized>(&self, value: &T) -> Result<Vec<u8>, CodecError> {
///         Ok(serde_json::to_vec(value)?)
///     }
///     fn decode<T: serde::de::DeserializeOwned>(&self, bytes: &[u8]) -> Result<T, CodecError> {
///         Ok(serde_json::from_slice(bytes)?)
///     }
/// }
/// ```
pub trait Codec {
    /// Encodes `value` to bytes.
    ///
    /// # Errors
    ///
    /// Any error of the underlying serializer.
    fn encode<T: Serialize + ?Sized>(&self, value: &T) -> Result<Vec<u8>, CodecError>;

    /// Decodes a value from bytes produced by [`encode`](Codec::encode).
    ///
    /// # Errors
    ///
    /// Any error of the underlying deserializer.
    fn decode<T: DeserializeOwned>(&self, bytes: &[u8]) -> Result<T, CodecError>;
}

impl<C: Codec + ?Sized> Codec for &C {
    fn encode<T: Serialize + ?Sized>(&self, value: &T) -> Result<Vec<u8>, CodecError> {
        (**self).encode(value)
    }

    fn decode<T: DeserializeOwned>(&self, bytes: &[u8]) -> Result<T, CodecError> {
        (**self).decode(bytes)
    }
}
