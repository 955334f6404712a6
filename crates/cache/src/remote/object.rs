//! The remote object: the disk layer's 128-byte header, the artifact, and, when the fleet
//! has an integrity key, a MAC trailer. See `docs/remote-cache.md`.
//!
//! ```text
//! [0, 128)                 the `.meta` header, byte for byte as on disk (format.rs)
//! [128, 128 + len)         the artifact, exactly the bytes of `Module::serialize`
//! [128 + len, +40)         optional: "WSCMAC1\0" and keyed blake3 of bytes [0, 128)
//! ```
//!
//! The header names the key, the artifact's length and its blake3 checksum, and carries a
//! checksum of itself; the MAC covers the whole header, so it authenticates the artifact
//! through the checksum. Whether the trailer is there follows from the length the header
//! gives, so there is nothing to negotiate.

use crate::CacheKey;
use crate::format::{META_LEN, Meta};

/// The first bytes of the MAC trailer.
const MAC_MAGIC: [u8; 8] = *b"WSCMAC1\0";

/// The length of the MAC trailer.
pub(crate) const MAC_LEN: usize = MAC_MAGIC.len() + 32;

/// The context the MAC key is derived under from the configured secret, so the secret is
/// never used directly and a MAC of this format cannot be confused with another use of it.
const MAC_KEY_CONTEXT: &str = "wasm-sandbox-cache remote artifact MAC v1";

/// The fleet's integrity key: a 32-byte key derived from the configured secret.
#[derive(Clone)]
pub(crate) struct MacKey([u8; 32]);

impl MacKey {
    /// Derives the MAC key from `secret` (at least 32 bytes of key material).
    pub(crate) fn derive(secret: &[u8]) -> Self {
        MacKey(blake3::derive_key(MAC_KEY_CONTEXT, secret))
    }

    fn mac(&self, header: &[u8]) -> blake3::Hash {
        blake3::keyed_hash(&self.0, header)
    }
}

impl std::fmt::Debug for MacKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MacKey(<secret>)")
    }
}

/// Builds the object for `key`'s `artifact`, with a MAC trailer when `mac` is given.
pub(crate) fn encode(key: &CacheKey, artifact: &[u8], mac: Option<&MacKey>) -> Vec<u8> {
    let header = Meta::for_artifact(*key, artifact).encode();
    let trailer = if mac.is_some() { MAC_LEN } else { 0 };
    let mut out = Vec::with_capacity(META_LEN + artifact.len() + trailer);
    out.extend_from_slice(&header);
    out.extend_from_slice(artifact);
    if let Some(mac) = mac {
        out.extend_from_slice(&MAC_MAGIC);
        out.extend_from_slice(mac.mac(&header).as_bytes());
    }
    out
}

/// Why a remote object was not accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Rejection {
    /// Shorter than a header.
    Truncated,
    /// The header does not decode (magic, checksum, version, flags).
    BadHeader(&'static str),
    /// The header names another key.
    WrongKey,
    /// The object's length is neither header + artifact nor that plus a MAC trailer.
    WrongLength,
    /// The artifact's blake3 does not match the header.
    ChecksumMismatch,
    /// An integrity key is configured and the object has no MAC trailer.
    MissingMac,
    /// The MAC trailer does not verify under the configured key.
    BadMac,
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Rejection::Truncated => f.write_str("object shorter than its header"),
            Rejection::BadHeader(why) => f.write_str(why),
            Rejection::WrongKey => f.write_str("header belongs to another key"),
            Rejection::WrongLength => {
                f.write_str("object length does not match the header (truncated or extended)")
            }
            Rejection::ChecksumMismatch => f.write_str("artifact checksum mismatch"),
            Rejection::MissingMac => f.write_str(
                "no MAC, and an integrity key is configured (not published by a key holder)",
            ),
            Rejection::BadMac => {
                f.write_str("MAC does not verify under the configured integrity key")
            }
        }
    }
}

/// Checks a remote object for `key`: the header (decoded by the disk layer's own
/// [`Meta::decode`]), its key, the object's length, the artifact's blake3 checksum and,
/// with `mac`, the MAC (compared in constant time). Returns the artifact's byte range and
/// checksum.
///
/// This is the check *before* the artifact is written to disk; the disk layer checks the
/// written file again, on the handle wasmtime then maps, exactly as for any disk hit.
pub(crate) fn verify(
    key: &CacheKey,
    object: &[u8],
    mac: Option<&MacKey>,
) -> Result<Verified, Rejection> {
    let header = object.get(..META_LEN).ok_or(Rejection::Truncated)?;
    let meta = Meta::decode(header).map_err(Rejection::BadHeader)?;
    if meta.key != *key {
        return Err(Rejection::WrongKey);
    }
    let end = usize::try_from(meta.artifact_len)
        .ok()
        .and_then(|len| META_LEN.checked_add(len))
        .ok_or(Rejection::WrongLength)?;
    let trailer = match object.len().checked_sub(end) {
        Some(0) => None,
        Some(MAC_LEN) => Some(&object[end..]),
        _ => return Err(Rejection::WrongLength),
    };
    // The MAC first: it is cheap, and with a key an unauthenticated object is not hashed.
    if let Some(mac) = mac {
        let trailer = trailer.ok_or(Rejection::MissingMac)?;
        if trailer[..MAC_MAGIC.len()] != MAC_MAGIC {
            return Err(Rejection::MissingMac);
        }
        let mut got = [0u8; 32];
        got.copy_from_slice(&trailer[MAC_MAGIC.len()..]);
        // `blake3::Hash`'s equality is constant-time.
        if blake3::Hash::from_bytes(got) != mac.mac(header) {
            return Err(Rejection::BadMac);
        }
    }
    let artifact = META_LEN..end;
    if *crate::hash::blake3_hash(&object[artifact.clone()]).as_bytes() != meta.checksum {
        return Err(Rejection::ChecksumMismatch);
    }
    Ok(Verified {
        artifact,
        checksum: meta.checksum,
    })
}

/// A verified object: where its artifact is, and the artifact's (checked) blake3.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Verified {
    pub(crate) artifact: std::ops::Range<usize>,
    pub(crate) checksum: [u8; 32],
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u8) -> CacheKey {
        CacheKey::from_bytes([n; 32])
    }

    #[test]
    fn round_trips_with_and_without_a_mac() {
        let artifact = b"some artifact bytes".repeat(10);
        let k = MacKey::derive(&[9; 32]);
        let plain = encode(&key(1), &artifact, None);
        let maced = encode(&key(1), &artifact, Some(&k));
        assert_eq!(plain.len() + MAC_LEN, maced.len());
        for object in [&plain, &maced] {
            let verified = verify(&key(1), object, None).unwrap();
            assert_eq!(&object[verified.artifact], &artifact[..]);
            assert_eq!(verified.checksum, *blake3::hash(&artifact).as_bytes());
        }
        assert!(verify(&key(1), &maced, Some(&k)).is_ok());
        assert_eq!(
            verify(&key(1), &plain, Some(&k)),
            Err(Rejection::MissingMac)
        );
        let other = MacKey::derive(&[8; 32]);
        assert_eq!(
            verify(&key(1), &maced, Some(&other)),
            Err(Rejection::BadMac)
        );
        assert_eq!(verify(&key(2), &plain, None), Err(Rejection::WrongKey));
    }

    #[test]
    fn every_truncation_bit_flip_and_extension_is_refused() {
        let artifact: Vec<u8> = (0..300u32).map(|i| (i * 7) as u8).collect();
        let k = MacKey::derive(b"a fleet secret of at least 32 bytes!");
        for mac in [None, Some(&k)] {
            let object = encode(&key(3), &artifact, mac);
            for len in 0..object.len() {
                assert!(verify(&key(3), &object[..len], mac).is_err(), "len {len}");
            }
            for bit in 0..object.len() * 8 {
                let mut flipped = object.clone();
                flipped[bit / 8] ^= 1 << (bit % 8);
                let verdict = verify(&key(3), &flipped, mac);
                // Without a key, a flip inside the trailer is not noticed (the trailer
                // is not read): the artifact is intact.
                let in_trailer = bit / 8 >= META_LEN + artifact.len();
                if mac.is_none() && in_trailer {
                    assert!(verdict.is_ok());
                } else {
                    assert!(verdict.is_err(), "bit {bit}");
                }
            }
            let mut extended = object.clone();
            extended.push(0);
            assert_eq!(verify(&key(3), &extended, mac), Err(Rejection::WrongLength));
        }
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_objects_are_refused_without_panicking(
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..700),
            splice in proptest::prelude::any::<bool>(),
        ) {
            // Junk, and junk behind a valid header of the right key (whose checksum the
            // junk then fails): never accepted, never a panic.
            let k = MacKey::derive(&[3; 32]);
            let object = if splice {
                let mut o = encode(&key(5), b"real", None)[..META_LEN].to_vec();
                o.extend_from_slice(&bytes);
                o
            } else {
                bytes
            };
            let plain = verify(&key(5), &object, None);
            proptest::prop_assert!(plain.is_err() || object[META_LEN..] .starts_with(b"real"));
            proptest::prop_assert!(verify(&key(5), &object, Some(&k)).is_err());
        }
    }

    #[test]
    fn a_consistent_forgery_passes_only_without_a_key() {
        // Whoever can write the bucket can compute the checksums: without a key a forged
        // object for our key verifies (wasmtime's own check is then all that is left).
        let forged = encode(&key(4), b"attacker's code", None);
        assert!(verify(&key(4), &forged, None).is_ok());
        let k = MacKey::derive(&[1; 32]);
        assert_eq!(
            verify(&key(4), &forged, Some(&k)),
            Err(Rejection::MissingMac)
        );
        let mut fake_trailer = forged.clone();
        fake_trailer.extend_from_slice(&MAC_MAGIC);
        fake_trailer.extend_from_slice(&[0; 32]);
        assert_eq!(
            verify(&key(4), &fake_trailer, Some(&k)),
            Err(Rejection::BadMac)
        );
    }
}
