//! The on-disk format: a raw wasmtime artifact `<key>.cwasm` and its sidecar header
//! `<key>.meta`. See `docs/cache-format.md` for the full description.

use crate::CacheKey;

/// Bumped whenever the layout of `.meta` files or the key derivation changes. Part of
/// every key, so artifacts of another format version are never even looked up.
pub(crate) const FORMAT_VERSION: u32 = 1;

/// The first eight bytes of every `.meta` file.
pub(crate) const MAGIC: [u8; 8] = *b"WSCMETA\0";

/// The length of a `.meta` file.
pub(crate) const META_LEN: usize = 128;

/// File name suffix of artifacts.
pub(crate) const ARTIFACT_EXT: &str = "cwasm";
/// File name suffix of headers.
pub(crate) const META_EXT: &str = "meta";
/// Prefix of temporary files, so they can be recognized and cleaned up.
pub(crate) const TEMP_PREFIX: &str = ".wsc-tmp-";

/// The decoded contents of a `.meta` file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Meta {
    pub(crate) key: CacheKey,
    pub(crate) artifact_len: u64,
    pub(crate) checksum: [u8; 32],
    pub(crate) created_unix_secs: u64,
}

impl Meta {
    pub(crate) fn for_artifact(key: CacheKey, artifact: &[u8]) -> Self {
        Meta {
            checksum: *blake3::hash(artifact).as_bytes(),
            ..Self::for_artifact_unhashed(key, artifact)
        }
    }

    /// The header of `artifact` whose blake3 checksum the caller already has (verified
    /// against the artifact by someone who hashed it).
    #[cfg_attr(
        not(feature = "remote"),
        allow(dead_code, reason = "used by the remote tier")
    )]
    pub(crate) fn with_checksum(key: CacheKey, artifact: &[u8], checksum: [u8; 32]) -> Self {
        Meta {
            checksum,
            ..Self::for_artifact_unhashed(key, artifact)
        }
    }

    fn for_artifact_unhashed(key: CacheKey, artifact: &[u8]) -> Self {
        let created_unix_secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        Meta {
            key,
            artifact_len: artifact.len() as u64,
            checksum: [0; 32],
            created_unix_secs,
        }
    }

    pub(crate) fn encode(&self) -> [u8; META_LEN] {
        let mut out = [0u8; META_LEN];
        out[0..8].copy_from_slice(&MAGIC);
        out[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
        // 12..16: flags, reserved, zero.
        out[16..48].copy_from_slice(self.key.as_bytes());
        out[48..56].copy_from_slice(&self.artifact_len.to_le_bytes());
        out[56..88].copy_from_slice(&self.checksum);
        out[88..96].copy_from_slice(&self.created_unix_secs.to_le_bytes());
        let header_sum = blake3::hash(&out[..96]);
        out[96..128].copy_from_slice(header_sum.as_bytes());
        out
    }

    /// Decodes and checks a `.meta` file's bytes.
    pub(crate) fn decode(bytes: &[u8]) -> Result<Meta, &'static str> {
        if bytes.len() != META_LEN {
            return Err("header has the wrong length");
        }
        if bytes[0..8] != MAGIC {
            return Err("header has the wrong magic number");
        }
        if blake3::hash(&bytes[..96]).as_bytes()[..] != bytes[96..128] {
            return Err("header checksum mismatch");
        }
        let u32_at = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"));
        let u64_at = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
        if u32_at(8) != FORMAT_VERSION {
            return Err("header is of another cache format version");
        }
        if u32_at(12) != 0 {
            return Err("header has unknown flags");
        }
        Ok(Meta {
            key: CacheKey::from_bytes(bytes[16..48].try_into().expect("32 bytes")),
            artifact_len: u64_at(48),
            checksum: bytes[56..88].try_into().expect("32 bytes"),
            created_unix_secs: u64_at(88),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_every_bit_flip_is_caught() {
        let key = CacheKey::from_bytes([7; 32]);
        let meta = Meta::for_artifact(key, b"artifact bytes");
        let bytes = meta.encode();
        assert_eq!(Meta::decode(&bytes), Ok(meta));
        for bit in 0..META_LEN * 8 {
            let mut flipped = bytes;
            flipped[bit / 8] ^= 1 << (bit % 8);
            assert!(Meta::decode(&flipped).is_err(), "bit {bit}");
        }
        for len in 0..META_LEN {
            assert!(Meta::decode(&bytes[..len]).is_err());
        }
    }
}
