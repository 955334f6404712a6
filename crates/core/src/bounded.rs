//! A deserializer adapter that bounds nesting depth and the number of
//! sequence elements and map entries, for decoding bytes an untrusted guest
//! wrote (`Codec::decode`, `docs/abi.md` "Bounds").
//!
//! [`deserialize`] wraps any [`serde::Deserializer`] and forwards every
//! call, wrapping the `Visitor`, `SeqAccess`, `MapAccess`, `EnumAccess` and
//! `VariantAccess` it hands out, so that it sees every level the decode goes
//! down and every element it takes. It changes nothing about what decodes:
//! the format, `is_human_readable`, borrowing and the error type are the
//! inner deserializer's. It only refuses, with the format's own error type,
//! two things the formats do not bound themselves. (The closest published
//! adapter, `serde_stacker`, grows the stack instead of refusing, which
//! turns a deep input into a large allocation, needs `psm`'s C code, and
//! bounds no element counts.)
//!
//! # Depth: at most 128 nested compound values
//!
//! A compound value is one whose decoding hands out a nested deserializer
//! or access: a sequence, tuple or struct (`visit_seq`), a map or struct
//! (`visit_map`), an enum (`visit_enum`, unit variants included), `Some`
//! (`visit_some`) and a newtype struct (`visit_newtype_struct`). Decoding
//! recurses on the host's stack once per such level, so the adapter refuses
//! to open one when [`Limits::DEFAULT_MAX_DEPTH`] (128) are already open,
//! the top-level value being the first; the format is not asked for
//! anything deeper.
//!
//! Postcard has no depth limit of its own: `enum Tree { Leaf,
//! Node(Box<Tree>) }` costs one byte per level, so a 16 MiB result could
//! recurse 16 million times and overflow the stack (an abort, not an
//! error). serde_json stops at 127 nested arrays and objects, and that limit
//! stays on, but it counts only `[` and `{`: `Some` and newtype structs
//! consume no input in JSON, so `struct List(Option<Box<List>>)` decoded
//! from the single byte `5` recurses until the stack overflows. Both are
//! refused here. 128 is serde_json's figure; the adapter counts more kinds
//! of levels (`Option`, newtypes, enums), so it may refuse a JSON value that
//! serde_json alone would take, if that value nests `Option`s, newtypes and
//! enums 128 deep, which no sensible result type does.
//!
//! # Items: at most `input_len + 4096` elements and entries in all
//!
//! The whole decode has one budget of items, [`Limits::for_input`]:
//! `input_len + ITEM_SLACK`, `ITEM_SLACK = 4096`. It is charged like this:
//!
//! * The elements of a tuple, tuple struct, struct or tuple/struct variant
//!   (and the entries of a struct decoded from a map) are not charged:
//!   their number is the type's. An enum's tag is not charged either.
//! * A sequence or map that announces its length (`size_hint() ==
//!   Some(n)`) is charged `n` when it opens. If fewer than `n` items are
//!   left, it fails there, before serde preallocates anything. Postcard
//!   announces the length prefix of every map, and of every sequence whose
//!   prefix does not exceed the bytes left; its sequence and map accesses
//!   then yield exactly that many elements (debug builds check it).
//! * A sequence or map that does not announce its length (serde_json never
//!   does; postcard when the prefix exceeds the bytes left) is charged one
//!   item per ask, the ask that finds its end included. With no item left,
//!   the ask fails without reaching the format, and every later ask too, so
//!   a visitor that swallows the error cannot keep going. Its size hint is
//!   clamped to the items left, so serde never preallocates past them.
//!
//! Why this never refuses an honest postcard value, except one with more
//! than 2048 elements of zero-sized types: postcard encodes every value in
//! at least one byte unless its type encodes to nothing (`()`, unit
//! structs, `PhantomData`, empty tuples, structs and arrays, and tuples and
//! structs of those). Charge each element to its first byte, and each map
//! entry to the first byte of its key (or of its value if the key encodes to
//! nothing). An element nested inside another sits inside a sequence or map
//! whose length prefix (at least one byte) lies inside the outer element and
//! before the inner one, so no byte is charged twice: an `N`-byte value
//! holds at most `N` elements and entries that encode to at least one byte.
//! The others, `Z` of them, are elements of zero-byte types (and entries of
//! maps whose keys and values both encode to nothing, at most one per
//! honest map). An honest sequence's prefix exceeds the bytes left only if
//! its elements encode to nothing, so the asks that find the end of
//! unannounced sequences number at most `Z` too. An honest value thus costs
//! at most `N + 2Z` items, within `N + 4096` while `Z <= 2048`. A result
//! with more (a `Vec<()>` of 10,000 elements, 2 bytes in postcard) carries
//! nothing but a count: send the count.
//!
//! What it stops: a length prefix that claims 2^64 elements of a zero-byte
//! type (`Vec<()>`, `Vec<UnitStruct>`, `BTreeMap<(), ()>`) makes postcard
//! loop 2^64 times without reading a byte; nested sequences of them multiply.
//! With the budget, a decode takes at most `input_len + 4096` elements and
//! entries in all, so its work is linear in the size of its input; and a map
//! prefix claiming 2^60 entries fails before `HashMap::with_capacity`.
//!
//! JSON never reaches the budget: every ask of a JSON sequence or map
//! consumes at least one byte (the element's first, or the `]` or `}` that
//! ends it), so an `N`-byte input makes at most `N` asks. The adapter
//! applies it anyway (one decrement per element) because JSON needs the
//! depth limit and the two come together.
//!
//! # Stack
//!
//! The limit bounds the number of levels; what a level costs on the stack is
//! the result type's and the build's. At the limit, the recursive shapes in
//! the tests need 4 to 28 KiB in release builds and 61 to 196 KiB in debug
//! builds (`stack_needed_at_the_depth_limit`), well within the 2 MiB of a
//! std or tokio thread. A type that recurses without an `Option`, a
//! collection or an enum (`struct S(Box<S>)`) has no finite value; its
//! `Deserialize` recurses on any input, and the limit stops that too.
//!
//! # Cost
//!
//! The state lives in thread locals ([`State`] says why), so every wrapper
//! is a newtype and a prepaid sequence's loop compiles as without the
//! adapter. Measured with callgrind (release build, instructions per
//! decode): a postcard `Vec<i32>` of 1,000 elements 44,611 → 44,677
//! (+0.1%); a small postcard struct (five fields: `u64`, `String`, `f64`,
//! `Option<u8>`, `Vec<u16>` of four) 821 → 925 (+13%: about 100
//! instructions per decode, to install the state and to open and close each
//! compound value); the same in JSON +2.4% and +2.5%. A version that
//! carried the state and a per-container counter in the wrappers cost, at
//! best, +9% instructions and +21% time on the `Vec<i32>`: a `&mut`
//! deserializer inside a wrapper struct reaches non-inlined code behind a
//! pointer without `noalias`, and postcard's loops then reload their cursor
//! after every store.

use std::cell::Cell;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, Visitor};

/// The bounds of one decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limits {
    /// How many compound values may be nested (the top-level value counts).
    pub(crate) max_depth: u32,
    /// How many elements of sequences and entries of maps the whole decode
    /// may visit.
    pub(crate) max_items: usize,
}

impl Limits {
    /// The default depth limit, serde_json's own.
    pub(crate) const DEFAULT_MAX_DEPTH: u32 = 128;
    /// Items allowed on top of one per input byte, for the elements of
    /// zero-sized types an honest value may hold (see the module docs).
    pub(crate) const ITEM_SLACK: usize = 4096;

    /// The limits for an input of `input_len` bytes: depth 128, and
    /// `input_len + 4096` items.
    pub(crate) fn for_input(input_len: usize) -> Self {
        Limits {
            max_depth: Self::DEFAULT_MAX_DEPTH,
            max_items: input_len.saturating_add(Self::ITEM_SLACK),
        }
    }
}

/// The bound a decode hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Exceeded {
    /// More than `max_depth` nested compound values.
    Depth {
        /// The limit.
        max_depth: u32,
    },
    /// More than `max_items` sequence elements and map entries, announced
    /// or asked for.
    Items {
        /// The limit.
        max_items: usize,
    },
}

impl fmt::Display for Exceeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Exceeded::Depth { max_depth } => write!(
                f,
                "depth limit exceeded: the value nests more than {max_depth} compound values"
            ),
            Exceeded::Items { max_items } => write!(
                f,
                "element budget exceeded: the value announces or holds more than {max_items} \
                 sequence elements and map entries (the input's length + {})",
                Limits::ITEM_SLACK
            ),
        }
    }
}

/// Why a bounded decode failed.
#[derive(Debug)]
pub(crate) enum DecodeError<E> {
    /// A bound was hit; `E` is the inner deserializer's error for it (which
    /// for postcard does not carry the message).
    Bound(Exceeded, E),
    /// The input is not a valid encoding.
    Format(E),
}

/// The state of the decode running on this thread. It lives in thread
/// locals, not in the wrappers, so that every wrapper is a newtype of what it
/// wraps: a postcard `SeqAccess` is a `(&mut Deserializer, len)` pair, passed
/// to the visitor's (non-inlined) `visit_seq` in two registers with the
/// `&mut` marked `noalias`; wrapped in a bigger struct it is passed behind a
/// pointer, the mark is lost, and the visitor's loop reloads postcard's
/// cursor after every element it stores (measured: +21% time on a
/// `Vec<i32>`).
/// A decode saves the state it finds and puts it back when it ends (also
/// when it unwinds), so decodes nest.
#[derive(Clone, Copy)]
struct State {
    /// Items that may still be yielded.
    items_left: usize,
    /// Compound values that may still be opened.
    depth_left: u32,
    /// The first bound hit: [`NONE`], [`DEPTH`] or [`ITEMS`].
    exceeded: u8,
}

const NONE: u8 = 0;
const DEPTH: u8 = 1;
const ITEMS: u8 = 2;

thread_local! {
    static ITEMS_LEFT: Cell<usize> = const { Cell::new(0) };
    static DEPTH_LEFT: Cell<u32> = const { Cell::new(0) };
    static EXCEEDED: Cell<u8> = const { Cell::new(NONE) };
}

impl State {
    /// Installs `self` as this thread's state, returning the previous one.
    fn install(self) -> State {
        State {
            items_left: ITEMS_LEFT.replace(self.items_left),
            depth_left: DEPTH_LEFT.replace(self.depth_left),
            exceeded: EXCEEDED.replace(self.exceeded),
        }
    }
}

/// Records the first bound hit and makes the format's error for it.
#[cold]
#[inline(never)]
fn fail<E: de::Error>(bound: u8) -> E {
    if EXCEEDED.get() == NONE {
        EXCEEDED.set(bound);
    }
    E::custom(if bound == DEPTH {
        "depth limit exceeded"
    } else {
        "element budget exceeded"
    })
}

/// Puts the saved state back when a decode ends, however it ends.
struct Restore(State);

impl Drop for Restore {
    fn drop(&mut self) {
        self.0.install();
    }
}

/// Decodes a `T` from `de` within `limits`.
///
/// A bound hit anywhere in the decode is reported as [`DecodeError::Bound`]
/// even if the inner deserializer's error that came out of it is different
/// (e.g. postcard's message-less `SerdeDeCustom`). If a visitor swallowed
/// the error and the decode succeeded anyway, the value is returned: no
/// bound was overstepped to build it.
pub(crate) fn deserialize<'de, T, D>(de: D, limits: Limits) -> Result<T, DecodeError<D::Error>>
where
    T: de::Deserialize<'de>,
    D: Deserializer<'de>,
{
    let restore = Restore(
        State {
            items_left: limits.max_items,
            depth_left: limits.max_depth,
            exceeded: NONE,
        }
        .install(),
    );
    let result = T::deserialize(Bounded(de));
    let exceeded = EXCEEDED.get();
    drop(restore);
    result.map_err(|e| match exceeded {
        NONE => DecodeError::Format(e),
        DEPTH => DecodeError::Bound(
            Exceeded::Depth {
                max_depth: limits.max_depth,
            },
            e,
        ),
        _ => DecodeError::Bound(
            Exceeded::Items {
                max_items: limits.max_items,
            },
            e,
        ),
    })
}

/// Opens one compound level: fails if `max_depth` are already open, else
/// returns the count for [`leave`] to put back once the level is done
/// (levels below balance theirs, so nothing needs to be read then).
#[inline]
fn enter<E: de::Error>() -> Result<u32, E> {
    let left = DEPTH_LEFT.get();
    if left == 0 {
        return Err(fail(DEPTH));
    }
    DEPTH_LEFT.set(left - 1);
    Ok(left)
}

/// Closes the level [`enter`] opened.
#[inline]
fn leave(left: u32) {
    DEPTH_LEFT.set(left);
}

/// Asks a container for its next element or entry (`next`), taking one
/// item from the budget first, whatever the answer (an element, the end of
/// the container, an error). With no item left, the call fails without
/// asking, and keeps failing: a visitor that swallows the error cannot go
/// on. Nothing looks at the answer, so the loop around it compiles as if
/// the adapter were not there, but for one decrement.
macro_rules! charged {
    ($next:expr) => {{
        let left = ITEMS_LEFT.get();
        if left == 0 {
            return Err(fail(ITEMS));
        }
        ITEMS_LEFT.set(left - 1);
        $next
    }};
}

/// Pays up front for a container that announces its length: `n` items.
/// More than the budget has left fails at once (an honest value never
/// announces more than it then holds).
#[inline]
fn prepay<E: de::Error>(n: usize) -> Result<(), E> {
    let left = ITEMS_LEFT.get();
    if n > left {
        return Err(fail(ITEMS));
    }
    ITEMS_LEFT.set(left - n);
    Ok(())
}

/// A deserializer that forwards to `D` within the bounds of the decode
/// running on this thread ([`deserialize`]).
struct Bounded<D>(D);

macro_rules! forward {
    ($($method:ident)*) => {$(
        #[inline]
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
            self.0.$method(BoundedVisitor::<V, false>(visitor))
        }
    )*};
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Bounded<D> {
    type Error = D::Error;

    forward! {
        deserialize_any deserialize_bool
        deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64 deserialize_i128
        deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64 deserialize_u128
        deserialize_f32 deserialize_f64 deserialize_char
        deserialize_str deserialize_string deserialize_bytes deserialize_byte_buf
        deserialize_option deserialize_unit deserialize_seq deserialize_map
        deserialize_identifier deserialize_ignored_any
    }

    #[inline]
    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0
            .deserialize_unit_struct(name, BoundedVisitor::<V, false>(visitor))
    }

    #[inline]
    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0
            .deserialize_newtype_struct(name, BoundedVisitor::<V, false>(visitor))
    }

    #[inline]
    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0
            .deserialize_tuple(len, BoundedVisitor::<V, true>(visitor))
    }

    #[inline]
    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0
            .deserialize_tuple_struct(name, len, BoundedVisitor::<V, true>(visitor))
    }

    #[inline]
    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0
            .deserialize_struct(name, fields, BoundedVisitor::<V, true>(visitor))
    }

    #[inline]
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0
            .deserialize_enum(name, variants, BoundedVisitor::<V, false>(visitor))
    }

    #[inline]
    fn is_human_readable(&self) -> bool {
        self.0.is_human_readable()
    }
}

/// A visitor that opens nested levels within the bounds. `FIXED`: the
/// visitor of a tuple, tuple struct, struct or tuple/struct variant, whose
/// elements and entries are not charged (their number is the type's).
struct BoundedVisitor<V, const FIXED: bool>(V);

macro_rules! forward_visit {
    ($($method:ident($ty:ty))*) => {$(
        #[inline]
        fn $method<E: de::Error>(self, v: $ty) -> Result<V::Value, E> {
            self.0.$method(v)
        }
    )*};
}

impl<'de, V: Visitor<'de>, const FIXED: bool> Visitor<'de> for BoundedVisitor<V, FIXED> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.expecting(f)
    }

    forward_visit! {
        visit_bool(bool)
        visit_i8(i8) visit_i16(i16) visit_i32(i32) visit_i64(i64) visit_i128(i128)
        visit_u8(u8) visit_u16(u16) visit_u32(u32) visit_u64(u64) visit_u128(u128)
        visit_f32(f32) visit_f64(f64) visit_char(char)
        visit_str(&str) visit_borrowed_str(&'de str) visit_string(String)
        visit_bytes(&[u8]) visit_borrowed_bytes(&'de [u8]) visit_byte_buf(Vec<u8>)
    }

    #[inline]
    fn visit_none<E: de::Error>(self) -> Result<V::Value, E> {
        self.0.visit_none()
    }

    #[inline]
    fn visit_unit<E: de::Error>(self) -> Result<V::Value, E> {
        self.0.visit_unit()
    }

    #[inline]
    fn visit_some<D: Deserializer<'de>>(self, de: D) -> Result<V::Value, D::Error> {
        let level = enter()?;
        let value = self.0.visit_some(Bounded(de));
        leave(level);
        value
    }

    #[inline]
    fn visit_newtype_struct<D: Deserializer<'de>>(self, de: D) -> Result<V::Value, D::Error> {
        let level = enter()?;
        let value = self.0.visit_newtype_struct(Bounded(de));
        leave(level);
        value
    }

    #[inline]
    fn visit_seq<A: de::SeqAccess<'de>>(self, seq: A) -> Result<V::Value, A::Error> {
        let level = enter()?;
        let value = if FIXED {
            self.0.visit_seq(BoundedAccess::<A, UNCHARGED>::new(seq))
        } else {
            match seq.size_hint() {
                Some(n) => match prepay(n) {
                    Ok(()) => self
                        .0
                        .visit_seq(BoundedAccess::<A, PREPAID>::prepaid(seq, n)),
                    Err(e) => Err(e),
                },
                None => self.0.visit_seq(BoundedAccess::<A, PER_ASK>::new(seq)),
            }
        };
        leave(level);
        value
    }

    #[inline]
    fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        let level = enter()?;
        let value = if FIXED {
            self.0.visit_map(BoundedAccess::<A, UNCHARGED>::new(map))
        } else {
            match map.size_hint() {
                Some(n) => match prepay(n) {
                    Ok(()) => self
                        .0
                        .visit_map(BoundedAccess::<A, PREPAID>::prepaid(map, n)),
                    Err(e) => Err(e),
                },
                None => self.0.visit_map(BoundedAccess::<A, PER_ASK>::new(map)),
            }
        };
        leave(level);
        value
    }

    #[inline]
    fn visit_enum<A: de::EnumAccess<'de>>(self, data: A) -> Result<V::Value, A::Error> {
        let level = enter()?;
        let value = self.0.visit_enum(BoundedAccess::<A, UNCHARGED>::new(data));
        leave(level);
        value
    }
}

/// A seed whose deserializer is bounded.
struct BoundedSeed<S>(S);

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for BoundedSeed<S> {
    type Value = S::Value;

    #[inline]
    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<S::Value, D::Error> {
        self.0.deserialize(Bounded(de))
    }
}

/// How a [`BoundedAccess`] charges its elements or entries.
type Charge = u8;
/// Not at all: an enum, or a tuple's or struct's elements (fixed by type).
const UNCHARGED: Charge = 0;
/// Paid for when it opened: it announced its length ([`prepay`]).
const PREPAID: Charge = 1;
/// One item per ask, the ask that finds the end included ([`charged!`]).
const PER_ASK: Charge = 2;

/// A sequence, map, enum or variant access whose contents are bounded. A
/// newtype in release builds (see [`State`] for why it must be one); debug
/// builds also count what a prepaid container yields, to check that the
/// format's announced length was the truth.
struct BoundedAccess<A, const CHARGE: Charge> {
    inner: A,
    #[cfg(debug_assertions)]
    prepaid: usize,
}

impl<A, const CHARGE: Charge> BoundedAccess<A, CHARGE> {
    #[inline]
    fn new(inner: A) -> Self {
        BoundedAccess {
            inner,
            #[cfg(debug_assertions)]
            prepaid: 0,
        }
    }

    #[inline]
    #[cfg_attr(not(debug_assertions), allow(unused_variables))]
    fn prepaid(inner: A, n: usize) -> Self {
        BoundedAccess {
            inner,
            #[cfg(debug_assertions)]
            prepaid: n,
        }
    }

    /// Debug builds: a prepaid container yielded one more element or entry.
    #[inline]
    fn check_prepaid(&mut self, yielded: bool) {
        #[cfg(debug_assertions)]
        if CHARGE == PREPAID && yielded {
            self.prepaid = self.prepaid.checked_sub(1).expect(
                "a container yielded more elements than its size_hint announced; \
                 the element budget relies on announced lengths being exact",
            );
        }
        #[cfg(not(debug_assertions))]
        let _ = yielded;
    }

    #[inline]
    fn size_hint(&self, hint: Option<usize>) -> Option<usize> {
        if CHARGE == PER_ASK {
            hint.map(|n| n.min(ITEMS_LEFT.get()))
        } else {
            hint
        }
    }
}

impl<'de, A: de::SeqAccess<'de>, const CHARGE: Charge> de::SeqAccess<'de>
    for BoundedAccess<A, CHARGE>
{
    type Error = A::Error;

    #[inline]
    fn next_element_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<Option<S::Value>, A::Error> {
        if CHARGE == PER_ASK {
            charged!(self.inner.next_element_seed(BoundedSeed(seed)))
        } else {
            let next = self.inner.next_element_seed(BoundedSeed(seed));
            self.check_prepaid(matches!(next, Ok(Some(_))));
            next
        }
    }

    #[inline]
    fn size_hint(&self) -> Option<usize> {
        self.size_hint(self.inner.size_hint())
    }
}

impl<'de, A: de::MapAccess<'de>, const CHARGE: Charge> de::MapAccess<'de>
    for BoundedAccess<A, CHARGE>
{
    type Error = A::Error;

    #[inline]
    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        if CHARGE == PER_ASK {
            charged!(self.inner.next_key_seed(BoundedSeed(seed)))
        } else {
            let next = self.inner.next_key_seed(BoundedSeed(seed));
            self.check_prepaid(matches!(next, Ok(Some(_))));
            next
        }
    }

    #[inline]
    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, A::Error> {
        self.inner.next_value_seed(BoundedSeed(seed))
    }

    #[inline]
    fn next_entry_seed<K: DeserializeSeed<'de>, S: DeserializeSeed<'de>>(
        &mut self,
        kseed: K,
        vseed: S,
    ) -> Result<Option<(K::Value, S::Value)>, A::Error> {
        if CHARGE == PER_ASK {
            charged!(
                self.inner
                    .next_entry_seed(BoundedSeed(kseed), BoundedSeed(vseed))
            )
        } else {
            let next = self
                .inner
                .next_entry_seed(BoundedSeed(kseed), BoundedSeed(vseed));
            self.check_prepaid(matches!(next, Ok(Some(_))));
            next
        }
    }

    #[inline]
    fn size_hint(&self) -> Option<usize> {
        self.size_hint(self.inner.size_hint())
    }
}

impl<'de, A: de::EnumAccess<'de>> de::EnumAccess<'de> for BoundedAccess<A, UNCHARGED> {
    type Error = A::Error;
    type Variant = BoundedAccess<A::Variant, UNCHARGED>;

    #[inline]
    fn variant_seed<S: DeserializeSeed<'de>>(
        self,
        seed: S,
    ) -> Result<(S::Value, Self::Variant), A::Error> {
        let (tag, variant) = self.inner.variant_seed(BoundedSeed(seed))?;
        Ok((tag, BoundedAccess::new(variant)))
    }
}

impl<'de, A: de::VariantAccess<'de>> de::VariantAccess<'de> for BoundedAccess<A, UNCHARGED> {
    type Error = A::Error;

    #[inline]
    fn unit_variant(self) -> Result<(), A::Error> {
        self.inner.unit_variant()
    }

    #[inline]
    fn newtype_variant_seed<S: DeserializeSeed<'de>>(self, seed: S) -> Result<S::Value, A::Error> {
        self.inner.newtype_variant_seed(BoundedSeed(seed))
    }

    #[inline]
    fn tuple_variant<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, A::Error> {
        self.inner
            .tuple_variant(len, BoundedVisitor::<V, true>(visitor))
    }

    #[inline]
    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, A::Error> {
        self.inner
            .struct_variant(fields, BoundedVisitor::<V, true>(visitor))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashMap};
    use std::marker::PhantomData;
    use std::time::{Duration, Instant};

    use proptest::prelude::*;
    use serde::{Deserialize, Serialize};

    use super::*;
    use crate::abi::Codec;
    use crate::error::Error;

    const CODECS: [Codec; 2] = [Codec::Json, Codec::Postcard];

    /// The reason of an `Error::Codec`, or a panic.
    fn codec_reason<T: std::fmt::Debug>(r: crate::Result<T>) -> String {
        match r {
            Err(Error::Codec { reason, .. }) => reason.into(),
            other => panic!("expected Error::Codec, got {other:?}"),
        }
    }

    /// Runs `f` on a thread with a `stack`-byte stack.
    fn on_small_stack<R: Send + 'static>(
        stack: usize,
        f: impl FnOnce() -> R + Send + 'static,
    ) -> R {
        std::thread::Builder::new()
            .stack_size(stack)
            .spawn(f)
            .expect("spawn")
            .join()
            .expect("the decode thread did not panic")
    }

    /// postcard's varint of a `usize`.
    fn varint(mut n: u64) -> Vec<u8> {
        let mut out = Vec::new();
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                out.push(byte);
                return out;
            }
            out.push(byte | 0x80);
        }
    }

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    enum Tree {
        Leaf,
        Node(Box<Tree>),
    }

    impl Tree {
        fn deep(levels: usize) -> Tree {
            (0..levels).fold(Tree::Leaf, |t, _| Tree::Node(Box::new(t)))
        }
    }

    /// A recursive struct: two compound levels (struct, sequence) per level.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct Nest {
        kids: Vec<Nest>,
    }

    /// Recursion through `Some` and a newtype only: no input is consumed per
    /// level in JSON.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct List(Option<Box<List>>);

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct Unit;

    /// 100,000 levels of `Tree::Node` in postcard (one byte each) fail with
    /// `Error::Codec`, on a 256 KiB stack, with the depth named.
    #[test]
    fn a_100000_deep_postcard_tree_fails_without_touching_the_stack_limit() {
        let mut bytes = vec![1u8; 100_000];
        bytes.push(0);
        let reason = on_small_stack(256 << 10, move || {
            codec_reason(Codec::Postcard.decode::<Tree>(&bytes))
        });
        assert!(reason.starts_with("depth limit exceeded"), "{reason}");
        assert!(reason.contains("128"), "{reason}");
    }

    /// The same through `Option` and a recursive struct.
    #[test]
    fn deep_postcard_values_of_other_shapes_fail_on_a_small_stack() {
        on_small_stack(256 << 10, || {
            let somes = vec![1u8; 100_000];
            let r = codec_reason(Codec::Postcard.decode::<List>(&somes));
            assert!(r.starts_with("depth limit exceeded"), "{r}");
            let nest = vec![1u8; 100_000];
            let r = codec_reason(Codec::Postcard.decode::<Nest>(&nest));
            assert!(r.starts_with("depth limit exceeded"), "{r}");
            // A type with no finite value recurses on any input.
            #[derive(Debug, Deserialize)]
            struct Endless(#[allow(dead_code)] Box<Endless>);
            for codec in CODECS {
                let r = codec_reason(codec.decode::<Endless>(b"0"));
                assert!(r.starts_with("depth limit exceeded"), "{r}");
            }
        });
    }

    /// And in JSON: nested objects, nested arrays, and the `Some`-newtype
    /// recursion that consumes no input at all (serde_json alone overflows
    /// the stack on `5`). On 1 MiB: debug-build JSON frames are large (the
    /// `Nest` case needs 196 KiB at the limit, see
    /// `stack_needed_at_the_depth_limit`).
    #[test]
    fn deep_json_values_fail_on_a_small_stack() {
        on_small_stack(1 << 20, || {
            let r = codec_reason(Codec::Json.decode::<List>(b"5"));
            assert!(r.starts_with("depth limit exceeded"), "{r}");

            let objects = "{\"kids\":[".repeat(50_000);
            let r = codec_reason(Codec::Json.decode::<Nest>(objects.as_bytes()));
            assert!(r.contains("limit exceeded"), "{r}");

            let trees = "{\"Node\":".repeat(100_000);
            let r = codec_reason(Codec::Json.decode::<Tree>(trees.as_bytes()));
            assert!(r.contains("limit exceeded"), "{r}");

            // Three of the adapter's levels per array: its limit comes
            // first, and serde_json knows where.
            #[derive(Debug, Deserialize)]
            struct Arrays(#[allow(dead_code)] Vec<Option<Arrays>>);
            let arrays = "[".repeat(100_000);
            let r = codec_reason(Codec::Json.decode::<Arrays>(arrays.as_bytes()));
            assert!(r.starts_with("depth limit exceeded"), "{r}");
            assert!(r.ends_with("at line 1 column 43"), "{r}");

            // serde_json's own limit (127) comes first for plain arrays.
            let r = codec_reason(Codec::Json.decode::<serde_json::Value>(arrays.as_bytes()));
            assert!(r.contains("recursion limit exceeded"), "{r}");
        });
    }

    /// The limit is exact: 128 nested enums decode, 129 do not.
    #[test]
    fn the_depth_limit_is_128_compound_values() {
        on_small_stack(1 << 20, || {
            for codec in CODECS {
                // 127 nodes and the leaf: 128 enums.
                let ok = Tree::deep(127);
                let bytes = codec.encode(&ok).unwrap();
                assert_eq!(codec.decode::<Tree>(&bytes).unwrap(), ok, "{codec:?}");
                let deep = Tree::deep(128);
                let bytes = codec.encode(&deep).unwrap();
                let r = codec_reason(codec.decode::<Tree>(&bytes));
                assert!(r.contains("limit exceeded"), "{codec:?}: {r}");
            }
        });
    }

    thread_local! {
        static LOWEST: Cell<usize> = const { Cell::new(usize::MAX) };
    }

    /// `List` with a probe that records how deep into the stack decoding got.
    struct Probe;

    impl<'de> Deserialize<'de> for Probe {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            let here = 0u8;
            let addr = std::ptr::addr_of!(here) as usize;
            LOWEST.with(|l| l.set(l.get().min(addr)));
            Option::<Box<Probe>>::deserialize(d).map(|_| Probe)
        }
    }

    /// Without the limit, 100,000 levels would need far more than 256 KiB:
    /// measure what one level costs here and check.
    #[test]
    fn without_the_limit_the_deep_inputs_would_overflow_the_small_stack() {
        let per_level = on_small_stack(256 << 10, || {
            let top = 0u8;
            let top = std::ptr::addr_of!(top) as usize;
            let bytes = vec![1u8; 100];
            let mut with_zero = bytes.clone();
            with_zero.push(0);
            assert!(Codec::Postcard.decode::<Probe>(&with_zero).is_ok());
            (top - LOWEST.with(Cell::get)) / 100
        });
        assert!(per_level > 0);
        assert!(
            per_level * 100_000 > 256 << 10,
            "{per_level} bytes per level would fit 100,000 levels in 256 KiB"
        );
    }

    /// `T`, recording how deep into the stack decoding got.
    struct Probed<T>(#[allow(dead_code)] T);

    impl<'de, T: Deserialize<'de>> Deserialize<'de> for Probed<T> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            let here = 0u8;
            let addr = std::ptr::addr_of!(here) as usize;
            LOWEST.with(|l| l.set(l.get().min(addr)));
            T::deserialize(d).map(Probed)
        }
    }

    #[derive(Deserialize)]
    enum PTree {
        Leaf,
        Node(#[allow(dead_code)] Box<Probed<PTree>>),
    }
    #[derive(Deserialize)]
    struct PList(#[allow(dead_code)] Option<Box<Probed<PList>>>);
    #[derive(Deserialize)]
    struct PNest {
        #[allow(dead_code)]
        kids: Vec<Probed<PNest>>,
    }
    #[derive(Deserialize)]
    struct PArrays(#[allow(dead_code)] Vec<Option<Probed<PArrays>>>);

    /// Stack used by a decode of `input` that the depth limit stops.
    fn stack_used<T: serde::de::DeserializeOwned>(codec: Codec, input: Vec<u8>) -> usize {
        on_small_stack(8 << 20, move || {
            let top = 0u8;
            let top = std::ptr::addr_of!(top) as usize;
            LOWEST.with(|l| l.set(usize::MAX));
            let r = codec_reason(codec.decode::<T>(&input).map(drop));
            assert!(r.contains("limit exceeded"), "{r}");
            top - LOWEST.with(Cell::get)
        })
    }

    /// What the stack must hold when the depth limit bites, per shape: the
    /// limit bounds the number of levels, the stack per level is the
    /// type's and the build's. Printed for the docs; checked against the
    /// 2 MiB of a std or tokio thread, with room to spare.
    #[test]
    fn stack_needed_at_the_depth_limit() {
        let cases = [
            (
                "postcard Tree",
                stack_used::<PTree>(Codec::Postcard, vec![1; 100_000]),
            ),
            (
                "postcard List",
                stack_used::<PList>(Codec::Postcard, vec![1; 100_000]),
            ),
            (
                "postcard Nest",
                stack_used::<PNest>(Codec::Postcard, vec![1; 100_000]),
            ),
            (
                "json Tree",
                stack_used::<PTree>(Codec::Json, "{\"Node\":".repeat(100_000).into()),
            ),
            ("json List", stack_used::<PList>(Codec::Json, b"5".to_vec())),
            (
                "json Nest",
                stack_used::<PNest>(Codec::Json, "{\"kids\":[".repeat(100_000).into()),
            ),
            (
                "json Arrays",
                stack_used::<PArrays>(Codec::Json, "[".repeat(100_000).into()),
            ),
        ];
        for (name, used) in cases {
            println!(
                "{name:14} {:6.1} KiB at the depth limit",
                used as f64 / 1024.0
            );
            assert!(used < 1 << 20, "{name}: {used} bytes");
        }
    }

    /// A length prefix that claims 2^64 - 1 zero-sized elements fails fast,
    /// for sequences and maps, nested or not; and so does a map prefix that
    /// claims more entries than the input could hold, before serde
    /// preallocates for it.
    #[test]
    fn huge_length_prefixes_of_zero_sized_elements_fail_fast() {
        let huge = varint(u64::MAX);
        let started = Instant::now();
        let r = codec_reason(Codec::Postcard.decode::<Vec<()>>(&huge));
        assert!(r.starts_with("element budget exceeded"), "{r}");
        assert!(r.contains("4106"), "{r}"); // 10 bytes + 4096
        let r = codec_reason(Codec::Postcard.decode::<Vec<Unit>>(&huge));
        assert!(r.starts_with("element budget exceeded"), "{r}");
        let r = codec_reason(Codec::Postcard.decode::<Vec<PhantomData<u8>>>(&huge));
        assert!(r.starts_with("element budget exceeded"), "{r}");
        let r = codec_reason(Codec::Postcard.decode::<BTreeMap<(), ()>>(&huge));
        assert!(r.starts_with("element budget exceeded"), "{r}");
        let r = codec_reason(Codec::Postcard.decode::<HashMap<u8, u8>>(&huge));
        assert!(r.starts_with("element budget exceeded"), "{r}");

        // Nested: 100 sequences of 100,000 elements each, in 301 bytes.
        let mut nested = varint(100);
        for _ in 0..100 {
            nested.extend(varint(100_000));
        }
        let r = codec_reason(Codec::Postcard.decode::<Vec<Vec<()>>>(&nested));
        assert!(r.starts_with("element budget exceeded"), "{r}");

        // Padding raises the budget, and the work stays linear in it.
        let mut padded = huge.clone();
        padded.resize(1 << 20, 0);
        let r = codec_reason(Codec::Postcard.decode::<Vec<()>>(&padded));
        assert!(r.starts_with("element budget exceeded"), "{r}");

        assert!(
            started.elapsed() < Duration::from_secs(5),
            "took {:?}",
            started.elapsed()
        );
    }

    /// The honest side of the element budget: zero-sized elements are fine
    /// up to the slack, and past it only when the bytes pay for them.
    #[test]
    fn honest_zero_sized_sequences_decode_up_to_the_slack() {
        for n in [0usize, 1, 2048, 4000] {
            let v = vec![(); n];
            let bytes = Codec::Postcard.encode(&v).unwrap();
            assert_eq!(Codec::Postcard.decode::<Vec<()>>(&bytes).unwrap(), v, "{n}");
        }
        let v = vec![(); 100_000];
        let bytes = Codec::Postcard.encode(&v).unwrap();
        let r = codec_reason(Codec::Postcard.decode::<Vec<()>>(&bytes));
        assert!(r.starts_with("element budget exceeded"), "{r}");
        // JSON pays for its units in bytes (`null,`).
        let bytes = Codec::Json.encode(&v).unwrap();
        assert_eq!(Codec::Json.decode::<Vec<()>>(&bytes).unwrap(), v);
        // Units inside a bigger value: within the slack, wherever they are.
        let v = (vec![7u8; 200_000], vec![Unit; 2048], vec![(); 2000]);
        let bytes = Codec::Postcard.encode(&v).unwrap();
        type Units = (Vec<u8>, Vec<Unit>, Vec<()>);
        assert_eq!(Codec::Postcard.decode::<Units>(&bytes).unwrap(), v);
    }

    /// The adapter forwards: the decoded value and the format's own errors
    /// are what the inner deserializer gives, and the state is per decode.
    #[test]
    fn errors_that_are_not_bounds_are_the_formats() {
        let r = codec_reason(Codec::Postcard.decode::<Vec<u8>>(&[5, 1, 2]));
        assert!(!r.contains("limit") && !r.contains("budget"), "{r}");
        let r = codec_reason(Codec::Json.decode::<Vec<u8>>(b"[1,2"));
        assert!(r.contains("EOF"), "{r}");
        let r = codec_reason(Codec::Json.decode::<Vec<u8>>(b"[1] x"));
        assert!(r.contains("trailing"), "{r}");
        // A failed decode leaves nothing behind for the next one.
        assert!(
            Codec::Postcard
                .decode::<Vec<()>>(&varint(u64::MAX))
                .is_err()
        );
        assert_eq!(
            Codec::Postcard.decode::<Vec<()>>(&[3]).unwrap(),
            vec![(); 3]
        );
    }

    /// A `Deserialize` that runs a decode of its own nests: the inner decode
    /// has its own budget and depth, and the outer one's are back after it.
    #[test]
    fn decodes_nest_and_panics_restore_the_state() {
        struct Inner(Vec<u8>);
        impl<'de> Deserialize<'de> for Inner {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let bytes = Vec::<u8>::deserialize(d)?;
                let inner: Vec<u8> = Codec::Postcard
                    .decode(&bytes)
                    .map_err(|e| de::Error::custom(e.to_string()))?;
                Ok(Inner(inner))
            }
        }
        let inner = Codec::Postcard.encode(&vec![9u8; 10]).unwrap();
        let outer = Codec::Postcard
            .encode(&(inner.clone(), Tree::deep(100)))
            .unwrap();
        let (got, tree): (Inner, Tree) = Codec::Postcard.decode(&outer).unwrap();
        assert_eq!((got.0, tree), (vec![9u8; 10], Tree::deep(100)));

        struct Boom;
        impl<'de> Deserialize<'de> for Boom {
            fn deserialize<D: Deserializer<'de>>(_: D) -> Result<Self, D::Error> {
                panic!("boom")
            }
        }
        let caught = std::panic::catch_unwind(|| Codec::Postcard.decode::<Vec<Boom>>(&[1]));
        assert!(caught.is_err());
        // Outside any decode the state is the idle one again.
        assert_eq!(ITEMS_LEFT.get(), 0);
        assert_eq!(DEPTH_LEFT.get(), 0);
        assert_eq!(EXCEEDED.get(), NONE);
        assert!(Codec::Postcard.decode::<Tree>(&[0]).is_ok());
    }

    /// Debug builds check that a container that announced its length yields
    /// no more: the element budget of announced containers relies on it.
    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "more elements than its size_hint announced")]
    fn a_format_that_lies_about_lengths_is_caught_in_debug_builds() {
        struct Liar;
        struct LyingSeq(u8);
        impl<'de> de::SeqAccess<'de> for LyingSeq {
            type Error = de::value::Error;
            fn next_element_seed<S: DeserializeSeed<'de>>(
                &mut self,
                seed: S,
            ) -> Result<Option<S::Value>, Self::Error> {
                self.0 += 1;
                seed.deserialize(de::value::UnitDeserializer::new())
                    .map(Some)
            }
            fn size_hint(&self) -> Option<usize> {
                Some(1)
            }
        }
        impl<'de> Deserializer<'de> for Liar {
            type Error = de::value::Error;
            fn deserialize_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Self::Error> {
                v.visit_seq(LyingSeq(0))
            }
            serde::forward_to_deserialize_any! {
                bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
                bytes byte_buf option unit unit_struct newtype_struct seq tuple
                tuple_struct map struct enum identifier ignored_any
            }
        }
        let _ = deserialize::<Vec<()>, _>(Liar, Limits::for_input(1 << 20));
    }

    // ---- amplification: host memory per result byte ----------------------

    thread_local! {
        /// Whether this thread's allocations are counted.
        static COUNTING: Cell<bool> = const { Cell::new(false) };
        /// Bytes this thread holds (counted allocations minus frees).
        static HELD: Cell<isize> = const { Cell::new(0) };
        /// The most it held at once.
        static PEAK: Cell<isize> = const { Cell::new(0) };
    }

    fn note(delta: isize) {
        // `try_with`: never panic in the allocator, even at thread exit.
        let _ = COUNTING.try_with(|c| {
            if c.get() {
                let held = HELD.get() + delta;
                HELD.set(held);
                PEAK.set(PEAK.get().max(held));
            }
        });
    }

    /// The system allocator, counting the requested bytes of the threads
    /// that ask for it ([`measure`]); the others only pay a thread-local
    /// read.
    struct Counting;

    // SAFETY: every method forwards to `System` with the caller's own
    // arguments, so the allocator contract is the caller's, as for `System`
    // itself; the counting touches only const-initialized thread-local
    // `Cell`s, which neither allocate nor panic.
    #[allow(unsafe_code)]
    unsafe impl std::alloc::GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
            // SAFETY: forwarded as received.
            let p = unsafe { std::alloc::System.alloc(layout) };
            if !p.is_null() {
                note(layout.size() as isize);
            }
            p
        }

        unsafe fn alloc_zeroed(&self, layout: std::alloc::Layout) -> *mut u8 {
            // SAFETY: forwarded as received.
            let p = unsafe { std::alloc::System.alloc_zeroed(layout) };
            if !p.is_null() {
                note(layout.size() as isize);
            }
            p
        }

        unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, new: usize) -> *mut u8 {
            // SAFETY: forwarded as received.
            let p = unsafe { std::alloc::System.realloc(ptr, layout, new) };
            if !p.is_null() {
                // A moving realloc holds both blocks for a moment: count
                // the new one first, so the peak sees it.
                note(new as isize);
                note(-(layout.size() as isize));
            }
            p
        }

        unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
            note(-(layout.size() as isize));
            // SAFETY: forwarded as received.
            unsafe { std::alloc::System.dealloc(ptr, layout) }
        }
    }

    #[global_allocator]
    static ALLOCATOR: Counting = Counting;

    /// Decodes `bytes` as `T` and returns (bytes the value holds, the most
    /// the decode held at once), both per input byte.
    fn measure<T: serde::de::DeserializeOwned>(codec: Codec, bytes: &[u8]) -> (f64, f64) {
        HELD.set(0);
        PEAK.set(0);
        COUNTING.set(true);
        let value = codec.decode::<T>(bytes);
        COUNTING.set(false);
        assert!(value.is_ok(), "{codec:?}: the honest input decodes");
        let (held, peak) = (HELD.get(), PEAK.get());
        drop(value);
        let n = bytes.len() as f64;
        (held as f64 / n, peak as f64 / n)
    }

    /// An enum whose values are as big as its largest variant: the
    /// amplification a result type can hide.
    #[derive(Debug, Serialize, Deserialize)]
    #[allow(
        clippy::large_enum_variant,
        reason = "the amplification being measured"
    )]
    enum Big {
        Small,
        Large(#[allow(dead_code)] [u64; 32]),
    }

    /// Host memory per result byte for common result types, each from the
    /// densest honest input for it (about 1 MiB; the factors do not depend
    /// on the size). Printed as the table in `docs/abi.md`; the assertions
    /// keep the table honest.
    #[test]
    fn amplification_of_common_result_types() {
        const N: usize = 1 << 20;
        let pc = |v: &dyn erased::Encode| v.encode(Codec::Postcard);
        let js = |v: &dyn erased::Encode| v.encode(Codec::Json);
        let bytes_v: Vec<u8> = vec![0; N];
        let ints: Vec<i32> = vec![0; N];
        let string: String = "a".repeat(N);
        let strings: Vec<String> = vec![String::new(); N / 2];
        let vecs: Vec<Vec<u8>> = vec![Vec::new(); N / 2];
        let bigs: Vec<Big> = (0..N / 8).map(|_| Big::Small).collect();
        let numbers = serde_json::Value::Array(vec![0.into(); N / 2]);
        let arrays = serde_json::Value::Array(vec![serde_json::json!([]); N / 3]);
        let objects = serde_json::Value::Array(vec![serde_json::json!({"": 0}); N / 7]);

        let rows: Vec<(&str, &str, (f64, f64), f64)> = vec![
            (
                "Vec<u8>",
                "postcard",
                measure::<Vec<u8>>(Codec::Postcard, &pc(&bytes_v)),
                1.0,
            ),
            (
                "Vec<u8>",
                "json",
                measure::<Vec<u8>>(Codec::Json, &js(&bytes_v)),
                0.5,
            ),
            (
                "Vec<i32>",
                "postcard",
                measure::<Vec<i32>>(Codec::Postcard, &pc(&ints)),
                4.0,
            ),
            (
                "Vec<i32>",
                "json",
                measure::<Vec<i32>>(Codec::Json, &js(&ints)),
                2.0,
            ),
            (
                "String",
                "postcard",
                measure::<String>(Codec::Postcard, &pc(&string)),
                1.0,
            ),
            (
                "String",
                "json",
                measure::<String>(Codec::Json, &js(&string)),
                1.0,
            ),
            (
                "Vec<String> (empty)",
                "postcard",
                measure::<Vec<String>>(Codec::Postcard, &pc(&strings)),
                24.0,
            ),
            (
                "Vec<String> (empty)",
                "json",
                measure::<Vec<String>>(Codec::Json, &js(&strings)),
                8.0,
            ),
            (
                "Vec<Vec<u8>> (empty)",
                "postcard",
                measure::<Vec<Vec<u8>>>(Codec::Postcard, &pc(&vecs)),
                24.0,
            ),
            (
                "Vec<Vec<u8>> (empty)",
                "json",
                measure::<Vec<Vec<u8>>>(Codec::Json, &js(&vecs)),
                8.0,
            ),
            (
                "Vec<Big> (small variant)",
                "postcard",
                measure::<Vec<Big>>(Codec::Postcard, &pc(&bigs)),
                264.0,
            ),
            (
                "Vec<Big> (small variant)",
                "json",
                measure::<Vec<Big>>(Codec::Json, &js(&bigs)),
                33.0,
            ),
            (
                "serde_json::Value [0,0,…]",
                "json",
                measure::<serde_json::Value>(Codec::Json, &js(&numbers)),
                16.0,
            ),
            (
                "serde_json::Value [[],[],…]",
                "json",
                measure::<serde_json::Value>(Codec::Json, &js(&arrays)),
                10.7,
            ),
            (
                "serde_json::Value [{\"\":0},…]",
                "json",
                measure::<serde_json::Value>(Codec::Json, &js(&objects)),
                100.0,
            ),
        ];
        println!("| result type | codec | held / byte | peak / byte |");
        println!("|---|---|---:|---:|");
        for (ty, codec, (held, peak), expected) in rows {
            println!("| `{ty}` | {codec} | {held:.1} | {peak:.1} |");
            // `expected` is the element arithmetic (size of an element /
            // its encoded size); a `Vec` holds up to twice that in capacity
            // (serde preallocates at most 1 MiB, then it doubles), and
            // holds old and new buffer for a moment when it grows.
            assert!(held >= expected * 0.9, "{ty} {codec}: held {held:.2}");
            assert!(held <= expected * 2.1, "{ty} {codec}: held {held:.2}");
            assert!(peak <= expected * 3.1, "{ty} {codec}: peak {peak:.2}");
        }
    }

    /// The most this thread held at once while running `f`.
    fn peak_of<R>(f: impl FnOnce() -> R) -> (R, isize) {
        HELD.set(0);
        PEAK.set(0);
        COUNTING.set(true);
        let r = f();
        COUNTING.set(false);
        (r, PEAK.get())
    }

    /// A length prefix that lies costs no preallocation past the budget:
    /// announced lengths are paid for before serde sees them, so all the
    /// containers open at once preallocate at most `input_len + 4096`
    /// elements between them.
    #[test]
    fn lying_length_prefixes_do_not_preallocate() {
        let mut huge = varint(1 << 40);
        huge.extend([1, 2]);
        let (r, peak) = peak_of(|| Codec::Postcard.decode::<HashMap<u64, u64>>(&huge));
        assert!(codec_reason(r).starts_with("element budget exceeded"));
        assert!(peak < 1024, "{peak}");

        // Nested maps that each claim 4,000 entries, in a few bytes: the
        // second cannot pay.
        #[derive(Debug, Deserialize)]
        struct M(#[allow(dead_code)] HashMap<u8, M>);
        let mut nested = Vec::new();
        for _ in 0..100 {
            nested.extend(varint(4000));
            nested.push(0);
        }
        let (r, peak) = peak_of(|| Codec::Postcard.decode::<M>(&nested));
        assert!(codec_reason(r).starts_with("element budget exceeded"));
        // One map's table for 4,000 entries of 56 bytes (hashbrown rounds
        // up to 8,192 buckets), not 100 of them.
        assert!(peak < 1 << 20, "{peak}");
    }

    /// Type-erased encoding for the table's inputs.
    mod erased {
        use crate::abi::Codec;

        pub(super) trait Encode {
            fn encode(&self, codec: Codec) -> Vec<u8>;
        }

        impl<T: serde::Serialize> Encode for T {
            fn encode(&self, codec: Codec) -> Vec<u8> {
                codec.encode(self).unwrap()
            }
        }
    }

    // ---- honest values of many shapes ------------------------------------

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct Wrapper(u32);

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    enum Variant {
        Unit,
        Newtype(i64),
        Tuple(u8, String),
        Struct { a: Option<u16>, b: Vec<bool> },
    }

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct Shape {
        id: u64,
        neg: i32,
        name: String,
        ch: char,
        flag: bool,
        ratio: f64,
        bytes: Vec<u8>,
        nested: Vec<Vec<u16>>,
        map: BTreeMap<String, Vec<i16>>,
        keyed: HashMap<u32, Option<String>>,
        units: Vec<()>,
        unit_structs: Vec<Unit>,
        wrapper: Wrapper,
        variants: Vec<Variant>,
        tuple: (u8, (), String),
        array: [u8; 4],
        phantom: PhantomData<String>,
        tree: Tree,
        nest: Nest,
        list: List,
    }

    fn variant() -> impl Strategy<Value = Variant> {
        prop_oneof![
            Just(Variant::Unit),
            any::<i64>().prop_map(Variant::Newtype),
            (any::<u8>(), ".{0,8}").prop_map(|(a, b)| Variant::Tuple(a, b)),
            (
                any::<Option<u16>>(),
                prop::collection::vec(any::<bool>(), 0..8)
            )
                .prop_map(|(a, b)| Variant::Struct { a, b }),
        ]
    }

    fn nest() -> impl Strategy<Value = Nest> {
        Just(Nest { kids: vec![] }).prop_recursive(12, 64, 4, |inner| {
            prop::collection::vec(inner, 0..4).prop_map(|kids| Nest { kids })
        })
    }

    fn list() -> impl Strategy<Value = List> {
        // JSON cannot tell `List(Some(List(None)))` from `List(None)`
        // (both are `null`), so the round trip uses `List(None)` in JSON.
        (0usize..60).prop_map(|n| (0..n).fold(List(None), |l, _| List(Some(Box::new(l)))))
    }

    prop_compose! {
        fn shape()(
            id: u64, neg: i32, name in ".{0,24}", ch: char, flag: bool,
            ratio in any::<i32>().prop_map(f64::from),
            bytes in prop::collection::vec(any::<u8>(), 0..300),
            nested in prop::collection::vec(prop::collection::vec(any::<u16>(), 0..6), 0..6),
            map in prop::collection::btree_map(".{0,6}", prop::collection::vec(any::<i16>(), 0..4), 0..5),
            keyed in prop::collection::hash_map(any::<u32>(), proptest::option::of(".{0,5}"), 0..5),
            units in 0usize..1000, unit_structs in 0usize..1000,
            wrapper: u32,
            variants in prop::collection::vec(variant(), 0..6),
            tuple in (any::<u8>(), ".{0,4}"),
            array: [u8; 4],
            tree in 0usize..100,
            nest in nest(),
            list in list(),
        ) -> Shape {
            Shape {
                id, neg, name, ch, flag, ratio, bytes, nested, map, keyed,
                units: vec![(); units], unit_structs: vec![Unit; unit_structs],
                wrapper: Wrapper(wrapper), variants, tuple: (tuple.0, (), tuple.1), array,
                phantom: PhantomData, tree: Tree::deep(tree), nest, list,
            }
        }
    }

    /// Postcard's varint of `n`, then `rest`: random bytes behind a random
    /// (often huge) length prefix.
    fn prefixed() -> impl Strategy<Value = Vec<u8>> {
        (any::<u64>(), prop::collection::vec(any::<u8>(), 0..64)).prop_map(|(n, rest)| {
            let mut v = varint(n >> (n % 64));
            v.extend(rest);
            v
        })
    }

    /// Decodes `bytes` as many types with both codecs; must not panic.
    fn decode_everything(bytes: &[u8]) {
        for codec in CODECS {
            let _ = codec.decode::<Tree>(bytes);
            let _ = codec.decode::<Nest>(bytes);
            let _ = codec.decode::<List>(bytes);
            let _ = codec.decode::<Vec<()>>(bytes);
            let _ = codec.decode::<Vec<Vec<Unit>>>(bytes);
            let _ = codec.decode::<BTreeMap<(), ()>>(bytes);
            let _ = codec.decode::<HashMap<String, Vec<u8>>>(bytes);
            let _ = codec.decode::<Vec<Variant>>(bytes);
            let _ = codec.decode::<Shape>(bytes);
            let _ = codec.decode::<(char, String, Option<Box<Tree>>, i128)>(bytes);
        }
        let _ = Codec::Json.decode::<serde_json::Value>(bytes);
    }

    proptest! {
        #[test]
        fn honest_values_round_trip_through_both_codecs(v in shape()) {
            let bytes = Codec::Postcard.encode(&v).unwrap();
            prop_assert_eq!(Codec::Postcard.decode::<Shape>(&bytes).unwrap(), v.clone());
            let json_v = Shape { list: List(None), ..v };
            let bytes = Codec::Json.encode(&json_v).unwrap();
            prop_assert_eq!(Codec::Json.decode::<Shape>(&bytes).unwrap(), json_v);
        }

        #[test]
        fn honest_json_values_round_trip(v in any::<Vec<(String, Option<i64>, bool)>>()) {
            let value = serde_json::to_value(&v).unwrap();
            let bytes = Codec::Json.encode(&value).unwrap();
            prop_assert_eq!(Codec::Json.decode::<serde_json::Value>(&bytes).unwrap(), value);
        }

        #[test]
        fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
            decode_everything(&bytes);
        }

        #[test]
        fn random_length_prefixes_never_panic_or_spin(bytes in prefixed()) {
            decode_everything(&bytes);
        }

        #[test]
        fn mutated_honest_values_never_panic(
            v in shape(),
            flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        ) {
            for codec in CODECS {
                let mut bytes = codec.encode(&Shape { list: List(None), ..v.clone() }).unwrap();
                for (i, b) in &flips {
                    let i = i.index(bytes.len());
                    bytes[i] = *b;
                }
                decode_everything(&bytes);
            }
        }
    }
}
