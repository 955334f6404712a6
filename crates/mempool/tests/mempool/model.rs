//! Model-based property test: random `Vec<Op>` against the pool and a trivially correct model.

// The fuzz target's logic, shared verbatim: its `Harness` is the model, and its own tests
// (`smoke`, `corpus`, `regressions`) run here as `model::fuzz_logic::tests::*`.
#[allow(
    dead_code,
    unreachable_pub,
    reason = "a library module compiled into a test binary"
)]
#[path = "../../../../fuzz/src/mempool.rs"]
mod fuzz_logic;

#[allow(
    dead_code,
    unreachable_pub,
    reason = "a library module compiled into a test binary"
)]
#[path = "../../../../fuzz/src/replay.rs"]
mod replay;

use fuzz_logic::{Harness, Op, Setup, Size};
use proptest::prelude::*;

fn size() -> impl Strategy<Value = Size> {
    (any::<u8>(), any::<u16>()).prop_map(|(class, offset)| Size { class, offset })
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => size().prop_map(Op::Alloc),
        2 => size().prop_map(Op::WithCapacity),
        1 => (0..300u16, any::<u8>()).prop_map(|(len, seed)| Op::AllocCopy { len, seed }),
        4 => (any::<u8>(), any::<u16>(), any::<u16>(), any::<u8>())
            .prop_map(|(slot, offset, len, seed)| Op::Write { slot, offset, len, seed }),
        1 => any::<u8>().prop_map(|slot| Op::Read { slot }),
        2 => (any::<u8>(), 0..2000u16, any::<u8>())
            .prop_map(|(slot, len, seed)| Op::Extend { slot, len, seed }),
        1 => (any::<u8>(), size(), any::<u8>())
            .prop_map(|(slot, new_len, value)| Op::Resize { slot, new_len, value }),
        1 => (any::<u8>(), any::<u16>()).prop_map(|(slot, len)| Op::Truncate { slot, len }),
        1 => any::<u8>().prop_map(|slot| Op::Clear { slot }),
        4 => any::<u8>().prop_map(|slot| Op::Free { slot }),
        1 => Just(Op::ResetStats),
        1 => Just(Op::Trim),
    ]
}

fn setup() -> impl Strategy<Value = Setup> {
    (0..5u8, any::<bool>(), any::<bool>(), 0..4u8).prop_map(
        |(capacity, error_on_exhausted, zero_on_release, front_cache)| Setup {
            capacity,
            error_on_exhausted,
            zero_on_release,
            front_cache,
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        // `cargo test` runs in the package root: keep failures in the crate's committed
        // `proptest-regressions/` directory.
        failure_persistence: Some(Box::new(
            proptest::test_runner::FileFailurePersistence::Direct("proptest-regressions/model.txt"),
        )),
        ..ProptestConfig::default()
    })]

    /// After every operation: contents preserved, no overlap, stats equal to the model's,
    /// capacity respected (all checked by `Harness::apply`).
    #[test]
    fn pool_matches_model(setup in setup(), ops in prop::collection::vec(op(), 1..200)) {
        let mut harness = Harness::new(setup);
        for op in &ops {
            harness.apply(op);
        }
        harness.finish();
    }
}
