//! The `differential` fuzz target: a wasm-smith module runs on the interpreter
//! tier (Pulley) and on the highly-optimized tier (Cranelift), both with fuel,
//! built by `wasm_sandbox_core::build_engine` exactly as the sandbox builds them;
//! instantiation outcomes, every exported function's results or trap kinds, and
//! the final contents of exported memories and globals must agree.
//!
//! Fuel is charged by wasmtime's shared wasm-to-IR translation, so both tiers
//! run out at the same point. A stack overflow ends the comparison (the tiers'
//! frames differ in size, so the depth at which it happens legitimately does).
//!
//! Compiled into `wasm-sandbox-conformance`'s tests with `#[path]`.

use std::sync::OnceLock;

use arbitrary::{Arbitrary, Unstructured};
use wasm_sandbox_core::{ResourceLimits, SandboxConfig, Tier, build_engine, wasmtime};
use wasmtime::{Store, StoreLimits, StoreLimitsBuilder, Val, ValType};

/// Fuel per instantiation and per call.
pub const FUEL: u64 = 100_000;

fn engines() -> &'static (wasmtime::Engine, wasmtime::Engine) {
    static ENGINES: OnceLock<(wasmtime::Engine, wasmtime::Engine)> = OnceLock::new();
    ENGINES.get_or_init(|| {
        let cfg = SandboxConfig {
            limits: ResourceLimits {
                fuel: Some(FUEL),
                ..ResourceLimits::default()
            },
            ..SandboxConfig::default()
        };
        (
            build_engine(Tier::Interpreter, &cfg).expect("interpreter engine"),
            build_engine(Tier::HighlyOptimized, &cfg).expect("cranelift engine"),
        )
    })
}

/// The wasm-smith configuration: no imports, everything exported, NaNs
/// canonicalized (the tiers may produce different NaN bits otherwise), no
/// relaxed SIMD (implementation-defined results), no threads, GC or exceptions
/// (results the harness cannot compare), small memories.
pub fn smith_config(u: &mut Unstructured<'_>) -> arbitrary::Result<wasm_smith::Config> {
    let mut c = wasm_smith::Config::arbitrary(u)?;
    c.max_imports = 0;
    c.min_funcs = 1;
    c.max_funcs = c.max_funcs.min(20);
    c.max_instructions = c.max_instructions.min(300);
    c.max_memories = 1;
    c.max_tables = c.max_tables.min(2);
    c.max_table_elements = c.max_table_elements.min(1000);
    c.max_memory32_bytes = 1 << 20;
    c.memory64_enabled = false;
    c.export_everything = true;
    c.canonicalize_nans = true;
    c.relaxed_simd_enabled = false;
    c.threads_enabled = false;
    c.gc_enabled = false;
    c.exceptions_enabled = false;
    c.custom_page_sizes_enabled = false;
    c.max_data_segments = c.max_data_segments.min(20);
    c.max_element_segments = c.max_element_segments.min(20);
    Ok(c)
}

/// What one step produced, in a form both tiers can be compared by.
#[derive(Debug, PartialEq)]
pub enum Outcome {
    /// Values, as bit patterns (references only as null or not).
    Values(Vec<String>),
    /// A trap, by kind.
    Trap(String),
    /// Any other error (limits, and so on), by message.
    Error(String),
}

fn outcome(r: wasmtime::Result<Vec<Val>>) -> Outcome {
    match r {
        Ok(values) => Outcome::Values(values.iter().map(show).collect()),
        Err(e) => match e.downcast_ref::<wasmtime::Trap>() {
            Some(t) => Outcome::Trap(format!("{t:?}")),
            None => Outcome::Error(format!("{e}")),
        },
    }
}

fn show(v: &Val) -> String {
    match v {
        Val::I32(x) => format!("i32:{x}"),
        Val::I64(x) => format!("i64:{x}"),
        Val::F32(x) => format!("f32:{x:#x}"),
        Val::F64(x) => format!("f64:{x:#x}"),
        Val::V128(x) => format!("v128:{:#x}", x.as_u128()),
        Val::FuncRef(f) => format!("funcref:{}", f.is_some()),
        Val::ExternRef(r) => format!("externref:{}", r.is_some()),
        other => format!("ref:{}", other.ref_().is_some_and(|r| !r.is_null())),
    }
}

fn is_stack_overflow(o: &Outcome) -> bool {
    matches!(o, Outcome::Trap(t) if t == "StackOverflow")
}

struct Side {
    store: Store<StoreLimits>,
    instance: Option<wasmtime::Instance>,
}

impl Side {
    fn new(engine: &wasmtime::Engine, module: &wasmtime::Module) -> (Side, Outcome) {
        let limits = StoreLimitsBuilder::new()
            .memory_size(16 << 20)
            .table_elements(10_000)
            .instances(1)
            .build();
        let mut store = Store::new(engine, limits);
        store.limiter(|l| l);
        store.set_epoch_deadline(1 << 40);
        store.set_fuel(FUEL).expect("fuel is enabled");
        let r = wasmtime::Instance::new(&mut store, module, &[]);
        let (instance, o) = match r {
            Ok(i) => (Some(i), Outcome::Values(Vec::new())),
            Err(e) => (None, outcome(Err(e))),
        };
        (Side { store, instance }, o)
    }

    fn call(&mut self, name: &str, args: &[Val]) -> Outcome {
        let Some(instance) = self.instance else {
            return Outcome::Error("no instance".into());
        };
        let Some(f) = instance.get_func(&mut self.store, name) else {
            return Outcome::Error("no such function".into());
        };
        self.store.set_fuel(FUEL).expect("fuel is enabled");
        let n = f.ty(&self.store).results().len();
        let mut results = vec![Val::I32(0); n];
        let r = f
            .call(&mut self.store, args, &mut results)
            .map(|()| results);
        outcome(r)
    }

    fn state(&mut self) -> Vec<String> {
        let Some(instance) = self.instance else {
            return Vec::new();
        };
        let exports: Vec<(String, wasmtime::Extern)> = instance
            .exports(&mut self.store)
            .map(|e| (e.name().to_owned(), e.into_extern()))
            .collect();
        let mut out = Vec::new();
        for (name, ext) in exports {
            match ext {
                wasmtime::Extern::Memory(m) => {
                    let data = m.data(&self.store);
                    out.push(format!(
                        "{name}: memory {} bytes {}",
                        data.len(),
                        blake3::hash(data)
                    ));
                }
                wasmtime::Extern::Global(g) => {
                    out.push(format!("{name}: global {}", show(&g.get(&mut self.store))));
                }
                _ => {}
            }
        }
        out
    }
}

fn arg(u: &mut Unstructured<'_>, ty: &ValType) -> Option<Val> {
    Some(match ty {
        ValType::I32 => Val::I32(u.arbitrary().ok()?),
        ValType::I64 => Val::I64(u.arbitrary().ok()?),
        ValType::F32 => Val::F32(u.arbitrary().ok()?),
        ValType::F64 => Val::F64(u.arbitrary().ok()?),
        ValType::V128 => Val::V128(u.arbitrary::<u128>().ok()?.into()),
        ValType::Ref(r) if r.is_nullable() => Val::null_ref(r.heap_type()),
        ValType::Ref(_) => return None,
    })
}

/// Runs one input. Panics on any divergence between the tiers.
pub fn run(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let Ok(config) = smith_config(&mut u) else {
        return;
    };
    let Ok(module) = wasm_smith::Module::new(config, &mut u) else {
        return;
    };
    let wasm = module.to_bytes();
    let (pulley, cranelift) = engines();
    let a = wasmtime::Module::new(pulley, &wasm);
    let b = wasmtime::Module::new(cranelift, &wasm);
    let (a, b) = match (a, b) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(_), Err(_)) => return,
        (a, b) => panic!(
            "one tier refused the module: interpreter {:?}, cranelift {:?}",
            a.err(),
            b.err()
        ),
    };
    let (mut sa, oa) = Side::new(pulley, &a);
    let (mut sb, ob) = Side::new(cranelift, &b);
    if is_stack_overflow(&oa) || is_stack_overflow(&ob) {
        return;
    }
    assert_eq!(oa, ob, "instantiation differs");
    let funcs: Vec<(String, wasmtime::FuncType)> = a
        .exports()
        .filter_map(|e| e.ty().func().map(|f| (e.name().to_owned(), f.clone())))
        .take(16)
        .collect();
    for (name, ty) in funcs {
        let Some(args) = ty
            .params()
            .map(|p| arg(&mut u, &p))
            .collect::<Option<Vec<_>>>()
        else {
            continue;
        };
        let ra = sa.call(&name, &args);
        let rb = sb.call(&name, &args);
        if is_stack_overflow(&ra) || is_stack_overflow(&rb) {
            return;
        }
        assert_eq!(ra, rb, "`{name}` differs");
    }
    assert_eq!(sa.state(), sb.state(), "final state differs");
}

#[cfg(test)]
mod tests {
    use super::super::replay::{SplitMix, replay};

    #[test]
    fn smoke() {
        let mut rng = SplitMix(0xD1FF);
        for _ in 0..200 {
            let len = 64 + (rng.next() % 2048) as usize;
            let data: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            super::run(&data);
        }
    }

    #[test]
    fn corpus() {
        let seeds = replay("differential", "corpus", super::run);
        assert!(seeds > 0, "the seed corpus is committed");
    }
}
