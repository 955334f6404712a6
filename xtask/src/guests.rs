//! `cargo xtask guests`: rebuilds the C guests with clang for wasm32-wasi.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::run;

/// The version of libsqlite3-sys whose bundled amalgamation the SQLite guest
/// is built from.
const SQLITE_CRATE: &str = "libsqlite3-sys";
const SQLITE_VERSION: &str = "0.35.0";

/// How a guest is built.
struct Guest {
    name: &'static str,
    /// A WASI reactor (library-style exports) rather than a command.
    reactor: bool,
}

const GUESTS: &[Guest] = &[
    Guest {
        name: "abi",
        reactor: true,
    },
    Guest {
        name: "hello",
        reactor: false,
    },
    Guest {
        name: "membomb",
        reactor: true,
    },
    Guest {
        name: "plugin",
        reactor: true,
    },
    Guest {
        name: "sqlite",
        reactor: true,
    },
];

const INSTALL_HINT: &str =
    "install the toolchain with: apt-get install -y clang lld wasi-libc libclang-rt-14-dev-wasm32";

pub(crate) fn build(root: &Path, only: &[String]) -> Result<(), String> {
    if Command::new("clang").arg("--version").output().is_err() {
        return Err(format!("clang not found; {INSTALL_HINT}"));
    }
    for name in only {
        if !GUESTS.iter().any(|g| g.name == name) {
            return Err(format!("unknown guest `{name}`"));
        }
    }
    for g in GUESTS
        .iter()
        .filter(|g| only.is_empty() || only.iter().any(|n| n == g.name))
    {
        let dir = root.join("guests/c").join(g.name);
        let out = dir.join(format!("{}.wasm", g.name));
        let mut cmd = Command::new("clang");
        cmd.args([
            "--target=wasm32-wasi",
            "--sysroot=/usr",
            "-O2",
            "-Wl,--strip-debug",
        ]);
        if g.reactor {
            cmd.arg("-mexec-model=reactor");
        }
        cmd.arg("-o").arg(&out);
        if g.name == "sqlite" {
            let src = sqlite_sources(root)?;
            cmd.arg(format!("-I{}", src.display()));
            cmd.args([
                "-DSQLITE_OMIT_LOAD_EXTENSION",
                "-DSQLITE_THREADSAFE=0",
                "-DSQLITE_OMIT_WAL",
                "-DSQLITE_OMIT_SHARED_CACHE",
                "-DSQLITE_OMIT_RANDOMNESS",
                "-D_WASI_EMULATED_MMAN",
                "-D_WASI_EMULATED_SIGNAL",
                "-D_WASI_EMULATED_PROCESS_CLOCKS",
            ]);
            cmd.arg(dir.join("main.c")).arg(src.join("sqlite3.c"));
            cmd.args([
                "-lwasi-emulated-mman",
                "-lwasi-emulated-signal",
                "-lwasi-emulated-process-clocks",
            ]);
        } else {
            cmd.arg(dir.join(format!("{}.c", g.name)));
        }
        println!("building guests/c/{}/{}.wasm", g.name, g.name);
        run(&mut cmd).map_err(|e| format!("{e}\n{INSTALL_HINT}"))?;
    }
    Ok(())
}

/// Finds SQLite's amalgamation in the cargo registry, fetching the crate
/// that bundles it when it is not there yet.
fn sqlite_sources(root: &Path) -> Result<PathBuf, String> {
    if let Some(found) = find_in_registry() {
        return Ok(found);
    }
    // Fetch it through a throwaway manifest: cargo downloads and unpacks the
    // crate into the registry.
    let tmp = root.join("target/xtask-sqlite-fetch");
    std::fs::create_dir_all(tmp.join("src")).map_err(|e| format!("{}: {e}", tmp.display()))?;
    std::fs::write(
        tmp.join("Cargo.toml"),
        format!(
            "[package]\nname = \"fetch-sqlite\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\n\
             [workspace]\n\n[dependencies]\n{SQLITE_CRATE} = {{ version = \"={SQLITE_VERSION}\", features = [\"bundled\"] }}\n"
        ),
    )
    .map_err(|e| e.to_string())?;
    std::fs::write(tmp.join("src/lib.rs"), "").map_err(|e| e.to_string())?;
    run(Command::new(env!("CARGO")).arg("fetch").current_dir(&tmp))?;
    find_in_registry()
        .ok_or_else(|| format!("{SQLITE_CRATE} {SQLITE_VERSION} was fetched but not found"))
}

fn find_in_registry() -> Option<PathBuf> {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))?;
    let src = home.join("registry/src");
    std::fs::read_dir(src).ok()?.flatten().find_map(|index| {
        let p = index
            .path()
            .join(format!("{SQLITE_CRATE}-{SQLITE_VERSION}/sqlite3"));
        p.join("sqlite3.c").is_file().then_some(p)
    })
}
