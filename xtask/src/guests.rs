//! `cargo xtask guests`: rebuilds the C guests with clang for wasm32-wasi.
//!
//! Each guest is `guests/c/<name>/<name>.wasm`, built from its own files in
//! that directory and, for the real programs, from C sources that a crate in
//! the cargo registry ships (a [`Source`], fetched through a throwaway
//! manifest when it is not unpacked yet). Every build is
//! `clang --target=wasm32-wasi --sysroot=/usr -O2 -Wl,--strip-debug`,
//! `-I` the guest's directory (its headers win over the system's), `-I` the
//! crate's source directory, then the guest's own `flags`, files and `libs`.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::run;

/// C sources shipped inside a crate of the cargo registry.
struct Source {
    /// The crate.
    krate: &'static str,
    /// Its exact version (build metadata, after `+`, included).
    version: &'static str,
    /// The directory inside the crate that holds the C sources.
    dir: &'static str,
    /// A file of `dir` whose presence shows that the crate is unpacked.
    probe: &'static str,
}

/// SQLite's amalgamation, as `libsqlite3-sys` bundles it.
const LIBSQLITE3_SYS: Source = Source {
    krate: "libsqlite3-sys",
    version: "0.35.0",
    dir: "sqlite3",
    probe: "sqlite3.c",
};

/// SQLite 3.49.1's amalgamation together with its command-line shell,
/// `shell.c`, which `libsqlite3-sys` does not ship.
const SQLITE3_SRC: Source = Source {
    krate: "sqlite3-src",
    version: "0.7.1",
    dir: "source",
    probe: "shell.c",
};

/// Lua 5.4.9's library (the crate ships neither `lua.c` nor `luac.c`, so
/// the interpreter is the guest's own `main.c`).
const LUA_SRC: Source = Source {
    krate: "lua-src",
    version: "551.1.0",
    dir: "lua-5.4.9",
    probe: "lua.h",
};

/// bzip2 1.0.8, whole: the library and the `bzip2` command, `bzip2.c`.
const BZIP2_SYS: Source = Source {
    krate: "bzip2-sys",
    version: "0.1.13+1.0.8",
    dir: "bzip2-1.0.8",
    probe: "bzip2.c",
};

/// How a guest is built.
struct Guest {
    name: &'static str,
    /// A WASI reactor (library-style exports) rather than a command.
    reactor: bool,
    /// The guest's own C files, in `guests/c/<name>/`.
    own: &'static [&'static str],
    /// The crate whose sources are compiled with them, and which of its
    /// files (`*.c`: every C file of its source directory).
    source: Option<(&'static Source, &'static [&'static str])>,
    /// Compiler flags beyond the common ones.
    flags: &'static [&'static str],
    /// wasi-libc's emulation libraries that the program links.
    libs: &'static [&'static str],
}

impl Guest {
    /// A guest built from its own files alone, with the common flags.
    const fn plain(name: &'static str, own: &'static [&'static str], reactor: bool) -> Self {
        Guest {
            name,
            reactor,
            own,
            source: None,
            flags: &[],
            libs: &[],
        }
    }
}

const GUESTS: &[Guest] = &[
    Guest::plain("abi", &["abi.c"], true),
    Guest::plain("hello", &["hello.c"], false),
    Guest::plain("membomb", &["membomb.c"], true),
    Guest::plain("plugin", &["plugin.c"], true),
    // SQLite as a reactor: `workload(n)`.
    Guest {
        name: "sqlite",
        reactor: true,
        own: &["main.c"],
        source: Some((&LIBSQLITE3_SYS, &["sqlite3.c"])),
        flags: &[
            "-DSQLITE_OMIT_LOAD_EXTENSION",
            "-DSQLITE_THREADSAFE=0",
            "-DSQLITE_OMIT_WAL",
            "-DSQLITE_OMIT_SHARED_CACHE",
            "-DSQLITE_OMIT_RANDOMNESS",
            "-D_WASI_EMULATED_MMAN",
            "-D_WASI_EMULATED_SIGNAL",
            "-D_WASI_EMULATED_PROCESS_CLOCKS",
        ],
        libs: &[
            "-lwasi-emulated-mman",
            "-lwasi-emulated-signal",
            "-lwasi-emulated-process-clocks",
        ],
    },
    // The standalone Lua interpreter: `lua [options] [script [args]]`.
    Guest {
        name: "lua",
        reactor: false,
        own: &["main.c"],
        source: Some((&LUA_SRC, &["*.c"])),
        // lstate.h names `sig_atomic_t`, which wasi-libc declares only for
        // the signal emulation; nothing calls `signal`, so nothing links it.
        // The guest's `setjmp.h` stands in for the one wasi-libc lacks and
        // defines Lua's error macros (see the comment at its top).
        flags: &["-D_WASI_EMULATED_SIGNAL"],
        libs: &[],
    },
    // Lua as a reactor of the guest ABI: `init(prelude)`, `eval(script)`,
    // `state_probe()`. Its `syntax.c` finds syntax errors without throwing
    // (so they come back as guest errors); its `setjmp.h`, like the `lua`
    // guest's, makes every other Lua error report on stderr and trap.
    Guest {
        name: "lua-eval",
        reactor: true,
        own: &["main.c", "syntax.c"],
        source: Some((&LUA_SRC, &["*.c"])),
        // As for `lua`: lstate.h names `sig_atomic_t`.
        flags: &["-D_WASI_EMULATED_SIGNAL"],
        libs: &[],
    },
    // SQLite's own command-line shell, `sqlite3`, as SQLite ships it.
    Guest {
        name: "sqlite-shell",
        reactor: false,
        own: &["wasi_shim.c"],
        source: Some((&SQLITE3_SRC, &["shell.c", "sqlite3.c"])),
        flags: &[
            // shell.c's switch for WASI (sqlite3.c sets it itself from
            // `__wasi__`): no `pwd.h`, no `popen`.
            "-DSQLITE_WASI",
            // No `system()`: `.system`, `.shell` and `.edit` are left out.
            "-DSQLITE_NOHAVE_SYSTEM",
            // `chmod`, which `writefile()` calls and wasi-libc lacks.
            "-include",
            "wasi_shim.h",
            // `signal` (Ctrl-C), `getrusage` (`.timer`) and `getpid`.
            "-D_WASI_EMULATED_SIGNAL",
            "-D_WASI_EMULATED_PROCESS_CLOCKS",
            "-D_WASI_EMULATED_GETPID",
        ],
        libs: &[
            "-lwasi-emulated-signal",
            "-lwasi-emulated-process-clocks",
            "-lwasi-emulated-getpid",
        ],
    },
    // The `bzip2` command: compresses and decompresses files and streams.
    Guest {
        name: "bzip2",
        reactor: false,
        own: &["wasi_shim.c"],
        // bzip2.c and the library, as bzip2's Makefile links them.
        source: Some((
            &BZIP2_SYS,
            &[
                "bzip2.c",
                "blocksort.c",
                "huffman.c",
                "crctable.c",
                "randtable.c",
                "compress.c",
                "decompress.c",
                "bzlib.c",
            ],
        )),
        flags: &[
            // `fchmod` and `fchown`, which copy the input's mode and owner
            // to the output and which wasi-libc lacks.
            "-include",
            "wasi_shim.h",
            // `signal` (its clean-up handlers) and `sys/times.h`.
            "-D_WASI_EMULATED_SIGNAL",
            "-D_WASI_EMULATED_PROCESS_CLOCKS",
        ],
        libs: &["-lwasi-emulated-signal"],
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
        cmd.arg("-o").arg(&out).arg(format!("-I{}", dir.display()));
        let upstream = match g.source {
            Some((source, files)) => {
                let src = source_dir(root, source)?;
                cmd.arg(format!("-I{}", src.display()));
                source_files(&src, files)?
            }
            None => Vec::new(),
        };
        cmd.args(g.flags);
        cmd.args(g.own.iter().map(|f| dir.join(f)));
        cmd.args(upstream);
        cmd.args(g.libs);
        println!("building guests/c/{}/{}.wasm", g.name, g.name);
        let start = std::time::Instant::now();
        run(&mut cmd).map_err(|e| format!("{e}\n{INSTALL_HINT}"))?;
        println!("  built in {:.1} s", start.elapsed().as_secs_f64());
    }
    Ok(())
}

/// `files` of the source directory `src`, with `*.c` standing for every C
/// file in it, sorted.
fn source_files(src: &Path, files: &[&str]) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    for f in files {
        if *f == "*.c" {
            let mut all: Vec<PathBuf> = std::fs::read_dir(src)
                .map_err(|e| format!("{}: {e}", src.display()))?
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "c"))
                .collect();
            all.sort();
            out.extend(all);
        } else {
            out.push(src.join(f));
        }
    }
    Ok(out)
}

/// The source directory of `source` in the cargo registry, fetching the
/// crate when it is not there yet.
fn source_dir(root: &Path, source: &Source) -> Result<PathBuf, String> {
    if let Some(found) = find_in_registry(source) {
        return Ok(found);
    }
    // Fetch it through a throwaway manifest: cargo downloads and unpacks the
    // crate into the registry. (A manifest per crate: two of them link
    // `sqlite3`, and cargo refuses both in one graph.)
    let Source { krate, version, .. } = source;
    let tmp = root.join("target/xtask-fetch").join(krate);
    std::fs::create_dir_all(tmp.join("src")).map_err(|e| format!("{}: {e}", tmp.display()))?;
    // A requirement carries no build metadata.
    let requirement = version.split('+').next().unwrap_or(version);
    std::fs::write(
        tmp.join("Cargo.toml"),
        format!(
            "[package]\nname = \"xtask-fetch\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\n\
             [workspace]\n\n[dependencies]\n\
             {krate} = {{ version = \"={requirement}\", default-features = false }}\n"
        ),
    )
    .map_err(|e| e.to_string())?;
    std::fs::write(tmp.join("src/lib.rs"), "").map_err(|e| e.to_string())?;
    run(Command::new(env!("CARGO")).arg("fetch").current_dir(&tmp))?;
    find_in_registry(source).ok_or_else(|| format!("{krate} {version} was fetched but not found"))
}

fn find_in_registry(source: &Source) -> Option<PathBuf> {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))?;
    let registry = home.join("registry/src");
    std::fs::read_dir(registry)
        .ok()?
        .flatten()
        .find_map(|index| {
            let p = index
                .path()
                .join(format!("{}-{}", source.krate, source.version))
                .join(source.dir);
            p.join(source.probe).is_file().then_some(p)
        })
}
