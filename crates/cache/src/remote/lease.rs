//! The lease object: who is compiling a key, and until when.
//!
//! ```text
//! wasm-sandbox-lease v1
//! holder <32 lowercase hex digits>
//! expires <Unix milliseconds>
//! ```
//!
//! A lease is created put-if-absent next to the artifact's name. It is advisory: it only
//! decides who compiles first; what is loaded is always verified on its own.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

const FIRST_LINE: &str = "wasm-sandbox-lease v1";

/// The longest lease object that is read; anything longer is not a lease of ours.
pub(crate) const MAX_LEASE_BYTES: usize = 256;

/// One lease's content.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Lease {
    pub(crate) holder: u128,
    pub(crate) expires_unix_ms: u64,
}

/// Milliseconds since the Unix epoch, now.
pub(crate) fn now_unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl Lease {
    /// A lease for `holder` that expires `ttl` from now.
    pub(crate) fn new(holder: u128, ttl: Duration) -> Self {
        let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
        Lease {
            holder,
            expires_unix_ms: now_unix_ms().saturating_add(ttl_ms),
        }
    }

    pub(crate) fn encode(&self) -> String {
        format!(
            "{FIRST_LINE}\nholder {:032x}\nexpires {}\n",
            self.holder, self.expires_unix_ms
        )
    }

    /// Parses a lease; `None` for anything that is not one (which the caller treats as an
    /// expired lease: it can be taken over).
    pub(crate) fn decode(bytes: &[u8]) -> Option<Lease> {
        if bytes.len() > MAX_LEASE_BYTES {
            return None;
        }
        let text = std::str::from_utf8(bytes).ok()?;
        let mut lines = text.lines();
        if lines.next()? != FIRST_LINE {
            return None;
        }
        let holder = lines.next()?.strip_prefix("holder ")?;
        if holder.len() != 32 || !holder.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let holder = u128::from_str_radix(holder, 16).ok()?;
        let expires = lines.next()?.strip_prefix("expires ")?;
        if expires.is_empty() || !expires.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let expires_unix_ms = expires.parse().ok()?;
        if lines.next().is_some() {
            return None;
        }
        Some(Lease {
            holder,
            expires_unix_ms,
        })
    }

    /// How long until the lease expires, by this host's clock (zero if it has).
    pub(crate) fn remaining(&self) -> Duration {
        Duration::from_millis(self.expires_unix_ms.saturating_sub(now_unix_ms()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_decode_without_panicking(
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300),
            holder in proptest::prelude::any::<u128>(),
            expires in proptest::prelude::any::<u64>(),
        ) {
            let _ = Lease::decode(&bytes);
            let lease = Lease { holder, expires_unix_ms: expires };
            proptest::prop_assert_eq!(Lease::decode(lease.encode().as_bytes()), Some(lease));
        }
    }

    #[test]
    fn round_trip_and_junk_is_not_a_lease() {
        let lease = Lease::new(
            0x0123_4567_89ab_cdef_0011_2233_4455_6677,
            Duration::from_secs(30),
        );
        assert_eq!(Lease::decode(lease.encode().as_bytes()), Some(lease));
        assert!(lease.remaining() > Duration::from_secs(29));
        let good = lease.encode();
        for junk in [
            "",
            "wasm-sandbox-lease v1\n",
            "wasm-sandbox-lease v2\nholder 00000000000000000000000000000000\nexpires 1\n",
            "wasm-sandbox-lease v1\nholder 0\nexpires 1\n",
            "wasm-sandbox-lease v1\nholder +0000000000000000000000000000000\nexpires 1\n",
            "wasm-sandbox-lease v1\nholder 00000000000000000000000000000000\nexpires -1\n",
            "wasm-sandbox-lease v1\nholder 00000000000000000000000000000000\nexpires 99999999999999999999999\n",
            "wasm-sandbox-lease v1\nholder 00000000000000000000000000000000\nexpires 1\nmore\n",
        ] {
            assert_eq!(Lease::decode(junk.as_bytes()), None, "{junk:?}");
        }
        assert_eq!(Lease::decode(&[0xff; 40]), None);
        assert_eq!(Lease::decode(good.repeat(10).as_bytes()), None);
        let expired = Lease {
            holder: 1,
            expires_unix_ms: 0,
        };
        assert_eq!(expired.remaining(), Duration::ZERO);
    }
}
