//! Tidy checks that no tool enforces, run as ordinary tests (`cargo test -p xtask`):
//! every source file of the workspace starts with its `//!` docs, ARCHITECTURE.md has a
//! section for every member, and the crates depend on each other only as ARCHITECTURE.md's
//! "What may depend on what" allows.

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    fn root() -> PathBuf {
        crate::project_root()
    }

    fn read(path: &Path) -> String {
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    /// The workspace members, as `Cargo.toml` lists them (`crates/core`, `benches`, ...).
    fn members() -> Vec<String> {
        let manifest = read(&root().join("Cargo.toml"));
        let start = manifest
            .find("members = [")
            .expect("the workspace lists its members");
        let end = start + manifest[start..].find(']').expect("the member list ends");
        manifest[start..end]
            .split('"')
            .skip(1)
            .step_by(2)
            .map(str::to_owned)
            .collect()
    }

    /// The names in a member's `[dependencies]` table (not dev- or build-dependencies).
    fn dependencies(member: &str) -> Vec<String> {
        let manifest = read(&root().join(member).join("Cargo.toml"));
        let mut in_deps = false;
        let mut deps = Vec::new();
        for line in manifest.lines().map(str::trim) {
            if line.starts_with('[') {
                in_deps = line == "[dependencies]";
            } else if in_deps
                && !line.starts_with('#')
                && let Some((name, _)) = line.split_once('=')
            {
                deps.push(name.trim().to_owned());
            }
        }
        deps
    }

    fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                rust_files(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }

    #[test]
    fn every_source_file_starts_with_its_docs() {
        let mut files = Vec::new();
        for member in members() {
            for sub in ["src", "tests", "examples", "benches"] {
                rust_files(&root().join(&member).join(sub), &mut files);
            }
        }
        assert!(files.len() > 50, "found only {} files", files.len());
        let undocumented: Vec<_> = files
            .iter()
            .filter(|f| !read(f).trim_start().starts_with("//!"))
            .map(|f| f.strip_prefix(root()).unwrap_or(f).display().to_string())
            .collect();
        assert!(
            undocumented.is_empty(),
            "files without `//!` docs at the top: {undocumented:?}"
        );
    }

    #[test]
    fn the_architecture_has_a_section_for_every_member() {
        let architecture = read(&root().join("ARCHITECTURE.md"));
        let headings: Vec<&str> = architecture
            .lines()
            .filter(|l| l.starts_with("### "))
            .collect();
        for member in members() {
            assert!(
                headings
                    .iter()
                    .any(|h| h.contains(&format!("`{member}`"))
                        || h.contains(&format!("`{member}/`"))),
                "ARCHITECTURE.md has no `### ` section naming `{member}`"
            );
        }
    }

    #[test]
    fn crates_depend_on_each_other_only_as_the_architecture_allows() {
        // ARCHITECTURE.md, "What may depend on what": the in-repo crates each member's
        // `[dependencies]` may name. Leaves name none; nothing but the CLI, the benches
        // and examples depends on the facade.
        let allowed: &[(&str, &[&str])] = &[
            ("crates/mmap", &[]),
            ("crates/mempool", &[]),
            ("crates/callopt", &[]),
            ("crates/batch", &[]),
            ("crates/bench", &[]),
            ("crates/cache", &["wasm-sandbox-mmap"]),
            // The cache behind core's optional `cache` feature (the one cache glue).
            (
                "crates/core",
                &["wasm-sandbox-mempool", "wasm-sandbox-cache"],
            ),
            (
                "crates/tiering",
                &["wasm-sandbox-core", "wasm-sandbox-cache"],
            ),
            (
                "crates/conformance",
                &["wasm-sandbox-core", "wasm-sandbox-cache"],
            ),
            (
                "crates/wasm-sandbox",
                &[
                    "wasm-sandbox-core",
                    "wasm-sandbox-cache",
                    "wasm-sandbox-callopt",
                    "wasm-sandbox-batch",
                    "wasm-sandbox-tiering",
                ],
            ),
            ("crates/cli", &["wasm-sandbox"]),
            ("guests", &[]),
            ("xtask", &["wasm-sandbox-bench"]),
        ];
        for member in members() {
            let ours: Vec<String> = dependencies(&member)
                .into_iter()
                .filter(|d| d.starts_with("wasm-sandbox"))
                .collect();
            if member == "benches" {
                continue; // the cross-crate suite may use every crate
            }
            let Some((_, may)) = allowed.iter().find(|(m, _)| *m == member) else {
                panic!("`{member}` is a new member: add it to this test and to ARCHITECTURE.md");
            };
            for dep in &ours {
                assert!(
                    may.contains(&dep.as_str()),
                    "`{member}` depends on `{dep}`, which ARCHITECTURE.md does not allow"
                );
            }
        }
        // The cache knows nothing of the core (the core knows the cache).
        assert!(
            !dependencies("crates/cache")
                .iter()
                .any(|d| d == "wasm-sandbox-core"),
            "the cache depends on the core"
        );
        // The leaves are useful without wasmtime.
        for leaf in [
            "crates/mmap",
            "crates/mempool",
            "crates/callopt",
            "crates/batch",
            "crates/bench",
        ] {
            assert!(
                !dependencies(leaf).iter().any(|d| d.starts_with("wasmtime")),
                "the leaf `{leaf}` depends on wasmtime"
            );
        }
    }

    /// Host functions are registered through `HostFunctions` and guest calls
    /// go through the core's one ABI protocol: no crate but the core builds a
    /// raw linker or calls the ABI exports itself (tests, benchmarks and
    /// fuzzing, which measure or attack the raw layers, may).
    #[test]
    fn only_the_core_touches_linkers_and_the_abi_exports() {
        let mut files = Vec::new();
        for dir in [
            "crates/wasm-sandbox/src",
            "crates/tiering/src",
            "crates/cli/src",
            "crates/batch/src",
        ] {
            rust_files(&root().join(dir), &mut files);
        }
        for file in files {
            let text = read(&file);
            for needle in [
                "Linker<",
                "Linker::new",
                "\"sandbox_alloc\"",
                "\"sandbox_free\"",
            ] {
                assert!(
                    !text.contains(needle),
                    "{} names `{needle}`: host functions and the guest ABI belong to the core",
                    file.display()
                );
            }
        }
    }
}
