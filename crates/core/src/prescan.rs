//! The structural pre-scan that bounds compilation: [`check_module`].
//!
//! Compile time and memory grow with the number of functions (every function
//! costs the compiler a fixed amount of work and kilobytes of bookkeeping, so
//! 100,000 empty functions in 400 KB take seconds and hundreds of MiB) and
//! with the size of the bodies. Before any compiler (Cranelift, Winch or
//! Pulley's) sees a module, [`check_module`] reads its section headers and
//! the size of each function body, without validating or decoding the
//! bodies, and refuses a module over one of the [`CompileLimits`].
//!
//! `docs/security.md` ("Compilation") says what these limits bound and what
//! they do not.

use wasmparser::{Encoding, Parser, Payload};

use crate::config::CompileLimits;
use crate::error::{Error, Resource, Result};

/// What wasmtime (and [`check_module`]) say of bytes that are neither a
/// binary module nor text.
const NOT_WASM: &str = "neither a WebAssembly binary (no `\\0asm` header) nor WAT text (not UTF-8)";

/// The structure [`check_module`] measured, in the units of [`CompileLimits`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ModuleShape {
    /// Bytes of the binary module (text is measured after it is assembled).
    pub module_bytes: usize,
    /// Functions the module defines (imported functions are not counted).
    pub functions: u32,
    /// Imports of every kind.
    pub imports: u32,
    /// Bytes of all function bodies together (each body with its locals
    /// declarations, without its size prefix).
    pub code_bytes: usize,
    /// Bytes of the largest function body.
    pub largest_function_body: usize,
    /// Locals declared by all function bodies together (parameters not
    /// counted).
    pub locals: u64,
}

/// Checks the structure of `wasm` (a binary module, or WAT text) against
/// `limits` before it is compiled, and returns what it measured.
///
/// The scan reads section headers and function body sizes only: it neither
/// validates nor decodes function bodies, so it costs a tiny fraction of a
/// compile (SQLite's 1.1 MB: 40 µs in a release build, under a millisecond
/// in a debug one, against seconds to compile it). Text is
/// first checked against [`CompileLimits::max_module_bytes`] as text, then
/// assembled (as wasmtime would assemble it) and the binary is scanned. A
/// component (the component-model binary) is refused as `Sandbox::compile`
/// refuses it: the sandbox runs core modules only.
///
/// Passing the scan does not make a module valid: wasmtime still validates
/// it when it compiles.
///
/// ```
/// use wasm_sandbox_core::{check_module, CompileLimits, Error, Resource};
///
/// let wat = "(module (func) (func) (func))";
/// let shape = check_module(wat.as_bytes(), &CompileLimits::default())?;
/// assert_eq!(shape.functions, 3);
///
/// let tight = CompileLimits { max_functions: 2, ..CompileLimits::default() };
/// assert!(matches!(
///     check_module(wat.as_bytes(), &tight),
///     Err(Error::LimitExceeded { resource: Resource::Functions, requested: 3, limit: 2 })
/// ));
/// # Ok::<(), Error>(())
/// ```
///
/// # Errors
///
/// * [`Error::LimitExceeded`] naming [`Resource::ModuleBytes`],
///   [`Resource::Functions`], [`Resource::FunctionBodyBytes`] or
///   [`Resource::CodeBytes`] when the module is over that limit; `requested`
///   is the module's size, its function count, the size of the first body
///   over the limit, or the size of all bodies.
/// * [`Error::InvalidModule`] when the bytes are neither a binary module nor
///   WAT text, the text does not assemble, the binary's headers are
///   malformed or truncated (sections out of order or overrunning the
///   module, function and code sections of different lengths, ...), or the
///   binary is a component.
pub fn check_module(wasm: &[u8], limits: &CompileLimits) -> Result<ModuleShape> {
    check_module_bytes(wasm.len(), limits)?;
    if wasm.starts_with(b"\0asm") {
        return scan_binary(wasm, limits);
    }
    // wasmtime reads anything without the binary magic as WAT text.
    let text = std::str::from_utf8(wasm).map_err(|_| Error::invalid_module(NOT_WASM))?;
    let binary = wat::parse_str(text).map_err(|e| Error::invalid_module(format!("{e:#}")))?;
    scan_binary(&binary, limits)
}

fn check_module_bytes(len: usize, limits: &CompileLimits) -> Result<()> {
    check(Resource::ModuleBytes, len, limits.max_module_bytes)
}

/// `Err(LimitExceeded)` when `requested > limit`.
fn check(resource: Resource, requested: usize, limit: usize) -> Result<()> {
    if requested > limit {
        return Err(Error::LimitExceeded {
            resource,
            requested: requested as u64,
            limit: limit as u64,
        });
    }
    Ok(())
}

fn malformed(e: wasmparser::BinaryReaderError) -> Error {
    Error::invalid_module(format!("malformed module structure: {e}"))
}

fn scan_binary(wasm: &[u8], limits: &CompileLimits) -> Result<ModuleShape> {
    check_module_bytes(wasm.len(), limits)?;
    let mut shape = ModuleShape {
        module_bytes: wasm.len(),
        ..ModuleShape::default()
    };
    // Bodies left in the code section; its total is checked after the last.
    let mut bodies_left = 0u32;
    // The parser checks what the scan relies on: sections in order and
    // within the module (so there is at most one function and one code
    // section), and function and code sections of the same length.
    for payload in Parser::new(0).parse_all(wasm) {
        match payload.map_err(malformed)? {
            Payload::Version {
                encoding: Encoding::Component,
                ..
            } => {
                // Word for word what `wasmtime::Module::new` says of a component.
                return Err(Error::invalid_module(
                    "expected a WebAssembly module but was given a WebAssembly component",
                ));
            }
            Payload::ImportSection(imports) => {
                shape.imports = count_imports(imports, limits)?;
            }
            Payload::FunctionSection(functions) => {
                check_functions(functions.count(), limits)?;
                shape.functions = functions.count();
            }
            Payload::CodeSectionStart { count, .. } => {
                check_functions(count, limits)?;
                shape.functions = count;
                bodies_left = count;
            }
            Payload::CodeSectionEntry(body) => {
                let len = body.range().len();
                check(
                    Resource::FunctionBodyBytes,
                    len,
                    limits.max_function_body_bytes,
                )?;
                shape.largest_function_body = shape.largest_function_body.max(len);
                shape.code_bytes += len;
                // A local costs the compiler work whether or not it is used, and
                // its declaration is a few bytes for any number of them: read the
                // declarations (one entry per run of one type) and count.
                let mut locals = body.get_locals_reader().map_err(malformed)?;
                for _ in 0..locals.get_count() {
                    let (count, _) = locals.read().map_err(malformed)?;
                    shape.locals = shape.locals.saturating_add(count.into());
                }
                if shape.locals > limits.max_locals {
                    return Err(Error::LimitExceeded {
                        resource: Resource::Locals,
                        requested: shape.locals,
                        limit: limits.max_locals,
                    });
                }
                bodies_left = bodies_left.saturating_sub(1);
                if bodies_left == 0 {
                    check(Resource::CodeBytes, shape.code_bytes, limits.max_code_bytes)?;
                }
            }
            Payload::End(_) => return Ok(shape),
            _ => {}
        }
    }
    // `parse_all` ends a well-formed module with `End` and stops after an
    // error; this is not reached.
    Err(Error::invalid_module("malformed module structure: no end"))
}

/// The imports of the section (a compact group counts each of its items),
/// or the limit error as soon as the count passes `max_imports`.
fn count_imports(
    section: wasmparser::ImportSectionReader<'_>,
    limits: &CompileLimits,
) -> Result<u32> {
    let max = limits.max_imports;
    let over = |n: u64| {
        Err(Error::LimitExceeded {
            resource: Resource::Imports,
            requested: n,
            limit: max.into(),
        })
    };
    // The entry count bounds the groups; refuse at once when it alone is over.
    if section.count() > max {
        return over(section.count().into());
    }
    let mut n: u64 = 0;
    for group in section {
        n += match group.map_err(malformed)? {
            wasmparser::Imports::Single(..) => 1,
            wasmparser::Imports::Compact1 { items, .. } => items.count().into(),
            wasmparser::Imports::Compact2 { names, .. } => names.count().into(),
        };
        if n > u64::from(max) {
            return over(n);
        }
    }
    // At most `max`, a `u32`.
    Ok(n as u32)
}

fn check_functions(count: u32, limits: &CompileLimits) -> Result<()> {
    if count > limits.max_functions {
        return Err(Error::LimitExceeded {
            resource: Resource::Functions,
            requested: count.into(),
            limit: limits.max_functions.into(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A binary module of `n` functions `() -> ()`, each body `nops` `nop`s
    /// (so `nops + 2` bytes with its locals declaration and `end`).
    fn module(n: u32, nops: usize) -> Vec<u8> {
        let body = "nop ".repeat(nops);
        let funcs = format!("(func {body})").repeat(n as usize);
        wat::parse_str(format!("(module {funcs})")).expect("valid WAT")
    }

    #[test]
    fn measures_the_shape() {
        let wasm = module(3, 5);
        let shape = check_module(&wasm, &CompileLimits::default()).unwrap();
        assert_eq!(
            shape,
            ModuleShape {
                module_bytes: wasm.len(),
                functions: 3,
                code_bytes: 3 * 7,
                largest_function_body: 7,
                locals: 0,
                imports: 0,
            }
        );
        assert_eq!(
            check_module(b"(module)", &CompileLimits::default()).unwrap(),
            ModuleShape {
                module_bytes: 8,
                ..ModuleShape::default()
            }
        );
    }

    /// Imports of every kind count, and a module over the limit is refused
    /// before wasmtime sees it: 200,000 function imports (2.3 MB) cost
    /// wasmtime 130 MB and 0.3 s before it refused the first unknown name.
    #[test]
    fn imports_are_counted_and_limited() {
        let wat = r#"(module
            (import "m" "f" (func))
            (import "m" "g" (global i32))
            (import "m" "mem" (memory 1)))"#;
        let limits = |max_imports| CompileLimits {
            max_imports,
            ..CompileLimits::default()
        };
        assert_eq!(check_module(wat.as_bytes(), &limits(3)).unwrap().imports, 3);
        assert!(matches!(
            check_module(wat.as_bytes(), &limits(2)),
            Err(Error::LimitExceeded {
                resource: Resource::Imports,
                requested: 3,
                limit: 2
            })
        ));
        // A section that claims more entries than the limit is refused on
        // its count, before a name is read.
        let mut imports = vec![0xc0, 0x9a, 0x0c]; // 200,000 as LEB128
        imports.extend(std::iter::repeat_n(0u8, 16));
        let mut wasm = b"\0asm\x01\0\0\0".to_vec();
        wasm.push(2);
        wasm.push(imports.len() as u8);
        wasm.extend(&imports);
        assert!(matches!(
            check_module(&wasm, &CompileLimits::default()),
            Err(Error::LimitExceeded {
                resource: Resource::Imports,
                requested: 200_000,
                limit: 10_000
            })
        ));
    }

    #[test]
    fn each_limit_is_inclusive() {
        let wasm = module(3, 5);
        let exact = CompileLimits {
            max_module_bytes: wasm.len(),
            max_functions: 3,
            max_function_body_bytes: 7,
            max_code_bytes: 21,
            max_locals: 0,
            max_imports: 0,
        };
        check_module(&wasm, &exact).unwrap();
        for (limits, resource, requested) in [
            (
                CompileLimits {
                    max_module_bytes: wasm.len() - 1,
                    ..exact.clone()
                },
                Resource::ModuleBytes,
                wasm.len(),
            ),
            (
                CompileLimits {
                    max_functions: 2,
                    ..exact.clone()
                },
                Resource::Functions,
                3,
            ),
            (
                CompileLimits {
                    max_function_body_bytes: 6,
                    ..exact.clone()
                },
                Resource::FunctionBodyBytes,
                7,
            ),
            (
                CompileLimits {
                    max_code_bytes: 20,
                    ..exact.clone()
                },
                Resource::CodeBytes,
                21,
            ),
        ] {
            match check_module(&wasm, &limits) {
                Err(Error::LimitExceeded {
                    resource: r,
                    requested: q,
                    ..
                }) => assert_eq!((r, q), (resource, requested as u64)),
                other => panic!("{resource}: {other:?}"),
            }
        }
    }

    #[test]
    fn text_is_limited_as_text_and_as_binary() {
        let text = "(module (func) (func))";
        let limits = CompileLimits {
            max_module_bytes: text.len() - 1,
            ..CompileLimits::default()
        };
        assert!(matches!(
            check_module(text.as_bytes(), &limits),
            Err(Error::LimitExceeded {
                resource: Resource::ModuleBytes,
                ..
            })
        ));
        let limits = CompileLimits {
            max_functions: 1,
            ..CompileLimits::default()
        };
        assert!(matches!(
            check_module(text.as_bytes(), &limits),
            Err(Error::LimitExceeded {
                resource: Resource::Functions,
                requested: 2,
                limit: 1,
            })
        ));
    }

    #[test]
    fn malformed_structure_is_an_invalid_module() {
        let good = module(2, 1);
        for bad in [
            &b""[..],
            b"\0asm",
            b"\0asm\x02\0\0\0",
            b"\0asm\x01\0\0\0\x01\xff",
            &good[..good.len() - 1],
            b"\xff\xfe\x00\x61",
            b"(module (func",
        ] {
            let err = check_module(bad, &CompileLimits::default()).unwrap_err();
            assert!(matches!(err, Error::InvalidModule { .. }), "{err}");
        }
        // A function section without its code section.
        let mut cut = good.clone();
        let code_start = cut.len() - (1 + 1 + 1 + 2 * 4);
        cut.truncate(code_start);
        let err = check_module(&cut, &CompileLimits::default()).unwrap_err();
        assert!(err.to_string().contains("code section is absent"), "{err}");
    }

    #[test]
    fn a_component_is_refused_as_wasmtime_refuses_it() {
        let err = check_module(b"(component)", &CompileLimits::default()).unwrap_err();
        assert!(
            err.to_string().contains("given a WebAssembly component"),
            "{err}"
        );
        let err = check_module(b"\0asm\x0d\0\x01\0", &CompileLimits::default()).unwrap_err();
        assert!(matches!(err, Error::InvalidModule { .. }), "{err}");
    }
}
