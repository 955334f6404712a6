//! Every tier gives the same results and the same trap kinds.

use proptest::prelude::*;
use wasm_sandbox_core::{Error, Instance, Result, Tier, TrapCode};
use wasm_sandbox_guests::{RECURSION_WAT, SCALAR_WAT};

use crate::{config, fixed};

fn instances(wat: &str) -> Vec<Instance> {
    Tier::ALL
        .into_iter()
        .map(|tier| {
            let inst = fixed(wat, tier, config()).instantiate().unwrap();
            assert_eq!(inst.module().tier(), tier);
            inst
        })
        .collect()
}

/// What a call did, comparable across tiers (NaN payloads may differ).
#[derive(Debug, PartialEq)]
enum Outcome {
    Value(u64),
    Nan,
    Trap(TrapCode),
    Other(String),
}

fn outcome<T: Into<u64>>(r: Result<T>) -> Outcome {
    match r {
        Ok(v) => Outcome::Value(v.into()),
        Err(Error::Trap { code, .. }) => Outcome::Trap(code),
        Err(e) => Outcome::Other(e.to_string()),
    }
}

fn float(r: Result<f64>) -> Outcome {
    match r {
        Ok(v) if v.is_nan() => Outcome::Nan,
        Ok(v) => Outcome::Value(v.to_bits()),
        other => outcome(other.map(f64::to_bits)),
    }
}

/// Runs `f` on every tier and checks they all agree with the first.
fn same_everywhere(insts: &mut [Instance], f: impl Fn(&mut Instance) -> Outcome) -> Outcome {
    let first = f(&mut insts[0]);
    for inst in insts[1..].iter_mut() {
        let tier = inst.module().tier();
        assert_eq!(f(inst), first, "{tier} disagrees with the interpreter");
    }
    first
}

#[test]
fn traps_have_the_same_kind_on_every_tier() {
    let mut insts = instances(SCALAR_WAT);
    let div = |a: i32, b: i32| {
        move |i: &mut Instance| {
            outcome(
                i.call_typed::<(i32, i32), i32>("div", (a, b))
                    .map(|v| v as u32),
            )
        }
    };
    assert_eq!(
        same_everywhere(&mut insts, div(1, 0)),
        Outcome::Trap(TrapCode::IntegerDivisionByZero)
    );
    assert_eq!(
        same_everywhere(&mut insts, div(i32::MIN, -1)),
        Outcome::Trap(TrapCode::IntegerOverflow)
    );
    let unreachable = |i: &mut Instance| outcome(i.call_typed::<(), ()>("trap", ()).map(|()| 0u32));
    assert_eq!(
        same_everywhere(&mut insts, unreachable),
        Outcome::Trap(TrapCode::UnreachableCodeReached)
    );

    let mut insts = instances(RECURSION_WAT);
    let overflow =
        |i: &mut Instance| outcome(i.call_typed::<i32, i32>("recurse", 0).map(|v| v as u32));
    assert_eq!(
        same_everywhere(&mut insts, overflow),
        Outcome::Trap(TrapCode::StackOverflow)
    );
    // Deep but bounded recursion fits in the default 512 KiB on every tier.
    let deep =
        |i: &mut Instance| outcome(i.call_typed::<i32, i32>("depth", 1000).map(|v| v as u32));
    assert_eq!(same_everywhere(&mut insts, deep), Outcome::Value(1000));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn scalar_functions_agree_on_every_tier(
        a in any::<i32>(),
        b in prop_oneof![Just(0i32), Just(-1), any::<i32>()],
        x in any::<i64>(),
        y in any::<i64>(),
        f in any::<f64>(),
        g in any::<f64>(),
        n in 0i32..200,
    ) {
        thread_local! {
            static INSTS: std::cell::RefCell<Vec<Instance>> = std::cell::RefCell::new(instances(SCALAR_WAT));
        }
        INSTS.with(|insts| {
            let insts = &mut insts.borrow_mut()[..];
            same_everywhere(insts, |i| outcome(i.call_typed::<(i32, i32), i32>("add", (a, b)).map(|v| v as u32)));
            same_everywhere(insts, |i| outcome(i.call_typed::<(i32, i32), i32>("div", (a, b)).map(|v| v as u32)));
            same_everywhere(insts, |i| outcome(i.call_typed::<(i64, i64), i64>("add_i64", (x, y)).map(|v| v as u64)));
            same_everywhere(insts, |i| float(i.call_typed::<(f64, f64), f64>("hypot", (f, g))));
            same_everywhere(insts, |i| {
                float(i.call_typed::<(f32, f32), f32>("mul_f32", (f as f32, g as f32)).map(f64::from))
            });
            same_everywhere(insts, |i| outcome(i.call_typed::<i32, i64>("fib_iter", n).map(|v| v as u64)));
            same_everywhere(insts, |i| outcome(i.call_typed::<i32, i32>("busy", n * 10).map(|v| v as u32)));
            same_everywhere(insts, |i| outcome(i.call_typed::<i32, i32>("fib", n % 16).map(|v| v as u32)));
        });
    }
}
