//! Real programs through `wasm-sandbox run`: Lua 5.4's interpreter, SQLite's
//! shell and bzip2, built from C sources in the cargo registry by
//! `cargo xtask guests` and committed under `guests/c/`.
//!
//! Every run is made twice with one fresh `--cache-dir`: cold (compiled,
//! then stored) and warm (loaded from the cache, which it leaves as it was),
//! and both must give exactly the same status, stdout and stderr. The
//! expected outputs are what the real programs print (checked against
//! Debian's `lua5.4`, `sqlite3` and `bzip2`). Where a program names itself
//! in a message by its `argv[0]`, the test gives it the real name with
//! `--argv0`.

use std::io::Write;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, SystemTime};

use super::{command, guest};

/// The committed module `guests/c/<name>/<name>.wasm`.
fn program(name: &str) -> String {
    guest(&format!("c/{name}/{name}.wasm"))
}

fn path(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 temporary path")
}

/// What a run gave, compared whole so that a failure shows all of it.
#[derive(Debug, PartialEq, Eq)]
struct Ran {
    status: Option<i32>,
    stdout: Vec<u8>,
    stderr: String,
}

impl Ran {
    /// Asserts the run's status, stdout and stderr.
    fn assert(&self, status: i32, stdout: impl AsRef<[u8]>, stderr: &str) {
        let expected = Ran {
            status: Some(status),
            stdout: stdout.as_ref().to_vec(),
            stderr: stderr.to_owned(),
        };
        assert!(
            *self == expected,
            "got status {:?}, stdout {:?}, stderr {:?}; expected status {status}, stdout {:?}, stderr {stderr:?}",
            self.status,
            String::from_utf8_lossy(&self.stdout),
            self.stderr,
            String::from_utf8_lossy(stdout.as_ref()),
        );
    }
}

/// A correctness bound, not a timing: a run that has not ended by then is
/// killed and the test fails (the CLI's own `--timeout` cuts the guest far
/// sooner).
const BOUND: Duration = Duration::from_secs(120);

/// `wasm-sandbox run FLAGS MODULE -- ARGS`, `stdin` written to it and then
/// closed.
fn run(flags: &[&str], module: &str, args: &[&str], stdin: &[u8]) -> Ran {
    let mut all = vec!["run"];
    all.extend_from_slice(flags);
    all.extend([module, "--"]);
    all.extend_from_slice(args);
    let mut child = command(&all)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    let mut pipe = child.stdin.take().expect("piped stdin");
    let input = stdin.to_vec();
    // Written beside the read of the outputs, so that neither side blocks
    // the other; a guest that stops reading closes the pipe early.
    let writer = std::thread::spawn(move || {
        let _ = pipe.write_all(&input);
    });
    let out = super::output_within(child, BOUND, &format!("wasm-sandbox {all:?}"));
    writer.join().expect("the stdin writer");
    Ran {
        status: out.status.code(),
        stdout: out.stdout,
        stderr: String::from_utf8(out.stderr).expect("text on stderr"),
    }
}

/// The one compiled module in a cache directory: its name, length and
/// modification time.
fn cache_entry(dir: &Path) -> (String, u64, SystemTime) {
    let entries: Vec<_> = std::fs::read_dir(dir)
        .expect("the cache directory")
        .map(|e| e.expect("a cache entry"))
        .filter(|e| e.path().extension().is_some_and(|x| x == "cwasm"))
        .map(|e| {
            let meta = e.metadata().expect("its metadata");
            (
                e.file_name().to_string_lossy().into_owned(),
                meta.len(),
                meta.modified().expect("its modification time"),
            )
        })
        .collect();
    assert_eq!(entries.len(), 1, "one compiled module: {entries:?}");
    entries.into_iter().next().expect("one entry")
}

/// Runs `scenario` cold and then warm with one fresh cache directory (the
/// argument it is given for `--cache-dir`), asserts that both gave the same,
/// and that the warm run loaded the module the cold run stored and wrote
/// nothing; returns what the cold run gave.
fn cold_and_warm<T: PartialEq + std::fmt::Debug>(scenario: impl Fn(&str) -> T) -> T {
    let cache = tempfile::tempdir().expect("a temporary directory");
    let cold = scenario(path(cache.path()));
    let stored = cache_entry(cache.path());
    let warm = scenario(path(cache.path()));
    assert_eq!(
        cache_entry(cache.path()),
        stored,
        "the warm run compiled again"
    );
    assert_eq!(cold, warm, "the cold and warm runs differ");
    cold
}

/// A fresh temporary directory holding `files`.
fn dir_with(files: &[(&str, &[u8])]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temporary directory");
    for (name, bytes) in files {
        std::fs::write(dir.path().join(name), bytes).expect("a file written");
    }
    dir
}

fn read(dir: &Path, name: &str) -> Vec<u8> {
    std::fs::read(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// The file names in `dir`, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("a directory")
        .map(|e| {
            e.expect("an entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    names
}

// ---- Lua 5.4 --------------------------------------------------------------

const REPORT_LUA: &str = r##"-- Counts the words of arg[1] and writes the three most common to arg[2].
local counts, words = {}, {}
for line in io.lines(arg[1]) do
  for word in line:gmatch("%a+") do
    word = word:lower()
    if not counts[word] then
      counts[word] = 0
      words[#words + 1] = word
    end
    counts[word] = counts[word] + 1
  end
end
table.sort(words, function(a, b)
  if counts[a] ~= counts[b] then return counts[a] > counts[b] end
  return a < b
end)
local out = assert(io.open(arg[2], "w"))
for i = 1, 3 do
  local line = string.format("%-5s %d", words[i], counts[words[i]])
  print(line)
  out:write(line, "\n")
end
out:close()
print(select("#", ...), _VERSION, os.getenv("GREETING"))
print(string.format("%.3f", math.sqrt(2)), 7 // 2, 2 ^ 10, math.maxinteger)
"##;

const POEM: &str = "The cat sat on the mat.\nThe dog sat on the log.\nA cat and a dog.\n";

const TOP_THREE: &str = "the   4\na     2\ncat   2\n";

#[test]
fn lua_runs_a_script_from_a_preopened_directory() {
    let lua = program("lua");
    let (ran, written) = cold_and_warm(|cache| {
        let work = dir_with(&[
            ("report.lua", REPORT_LUA.as_bytes()),
            ("poem.txt", POEM.as_bytes()),
        ]);
        let mapping = format!("{}::/work", path(work.path()));
        let ran = run(
            &[
                "--cache-dir",
                cache,
                "--dir",
                &mapping,
                "--env",
                "GREETING=hello",
            ],
            &lua,
            &["/work/report.lua", "/work/poem.txt", "/work/top.txt"],
            b"",
        );
        (ran, read(work.path(), "top.txt"))
    });
    ran.assert(
        0,
        format!("{TOP_THREE}2\tLua 5.4\thello\n1.414\t3\t1024.0\t9223372036854775807\n"),
        "",
    );
    assert_eq!(String::from_utf8_lossy(&written), TOP_THREE);
}

#[test]
fn lua_runs_a_script_from_stdin() {
    let lua = program("lua");
    let script = b"local sum = 0\nfor i = 1, 100 do sum = sum + i end\n\
                   print(\"from stdin\", #arg, arg[0], ...)\nprint(\"sum\", sum)\n";
    // `-` names stdin as the script; its arguments follow.
    let ran =
        cold_and_warm(|cache| run(&["--cache-dir", cache], &lua, &["-", "one", "two"], script));
    ran.assert(0, "from stdin\t2\t-\tone\ttwo\nsum\t5050\n", "");
    // With no script and no option, stdin is the script, run after the
    // code in LUA_INIT.
    let ran = cold_and_warm(|cache| {
        run(
            &["--cache-dir", cache, "--env", "LUA_INIT=prefix = '>>'"],
            &lua,
            &[],
            b"print(prefix, 6 * 7)\n",
        )
    });
    ran.assert(0, ">>\t42\n", "");
}

#[test]
fn a_lua_error_exits_1_with_lua_s_message_and_traceback() {
    let lua = program("lua");
    // `--argv0 lua`: the interpreter names itself by argv[0] in messages.
    let lua_run = |cache: &str, dir: Option<&str>, args: &[&str], stdin: &[u8]| {
        let mut flags = vec!["--cache-dir", cache, "--argv0", "lua"];
        if let Some(mapping) = dir {
            flags.extend(["--dir", mapping]);
        }
        run(&flags, &lua, args, stdin)
    };
    let boom = "print(\"before\")\n\
                local function fail(what) error(\"boom: \" .. what) end\n\
                fail(\"in a function\")\n";
    let ran = cold_and_warm(|cache| {
        let work = dir_with(&[("boom.lua", boom.as_bytes())]);
        let mapping = format!("{}::/work", path(work.path()));
        lua_run(cache, Some(&mapping), &["/work/boom.lua"], b"")
    });
    ran.assert(
        1,
        "before\n",
        "lua: /work/boom.lua:2: boom: in a function\n\
         stack traceback:\n\
         \t[C]: in function 'error'\n\
         \t/work/boom.lua:2: in local 'fail'\n\
         \t/work/boom.lua:3: in main chunk\n\
         \t[C]: in ?\n",
    );
    // A syntax error in a script read from stdin.
    let ran = cold_and_warm(|cache| lua_run(cache, None, &["-"], b"x = = 1\n"));
    ran.assert(1, "", "lua: stdin:1: unexpected symbol near '='\n");
    // A script outside every preopened directory (there are none).
    let ran = cold_and_warm(|cache| lua_run(cache, None, &["/work/none.lua"], b""));
    ran.assert(
        1,
        "",
        "lua: cannot open /work/none.lua: Capabilities insufficient\n",
    );
    // lua.c reports an error in stdin run as the default script, yet exits 0.
    let ran = cold_and_warm(|cache| lua_run(cache, None, &[], b"error('late')\n"));
    ran.assert(
        0,
        "",
        "lua: stdin:1: late\nstack traceback:\n\t[C]: in function 'error'\n\
         \tstdin:1: in main chunk\n\t[C]: in ?\n",
    );
}

#[test]
fn a_lua_error_caught_by_pcall_traps_without_setjmp() {
    // wasi-libc has no setjmp, so an error cannot unwind to a pcall: the
    // interpreter says so and traps (see guests/c/lua/setjmp.h).
    let lua = program("lua");
    let ran = cold_and_warm(|cache| {
        run(
            &["--cache-dir", cache, "--argv0", "lua"],
            &lua,
            &["-e", "print(pcall(error, 'caught'))"],
            b"",
        )
    });
    assert_eq!(ran.status, Some(4), "{ran:?}");
    assert!(ran.stdout.is_empty(), "{ran:?}");
    let (guest_line, cli_line) = ran.stderr.split_once('\n').expect("two lines");
    assert_eq!(
        guest_line,
        "lua: cannot recover from an error inside pcall, load, require or a coroutine \
         without setjmp, which this WASI build lacks: caught"
    );
    assert!(
        cli_line.starts_with("wasm-sandbox: error: guest trapped")
            && cli_line.contains("lua_wasi_throw"),
        "{cli_line}"
    );
}

// ---- SQLite's shell -------------------------------------------------------

#[test]
fn sqlite_shell_runs_sql_from_stdin() {
    let shell = program("sqlite-shell");
    let sql = "CREATE TABLE fruit(id INTEGER PRIMARY KEY, name TEXT NOT NULL, price REAL);\n\
               INSERT INTO fruit(name, price) VALUES ('apple', 0.5), ('banana', 0.25), ('cherry', NULL);\n\
               SELECT id, name, price FROM fruit ORDER BY id;\n\
               SELECT count(*), sum(price), group_concat(name, ',') FROM fruit;\n\
               UPDATE fruit SET price = 2.0 WHERE name = 'cherry';\n\
               SELECT name FROM fruit WHERE price > 0.3 ORDER BY name DESC;\n\
               SELECT sqlite_version();\n";
    let ran = cold_and_warm(|cache| run(&["--cache-dir", cache], &shell, &[], sql.as_bytes()));
    // The shell's default output: `col|col`, NULL as nothing. With no HOME
    // in the guest's environment it warns, as the real shell does.
    ran.assert(
        0,
        "1|apple|0.5\n2|banana|0.25\n3|cherry|\n3|0.75|apple,banana,cherry\ncherry\napple\n3.49.1\n",
        "-- warning: cannot find home directory; cannot read ~/.sqliterc\n",
    );
}

#[test]
fn sqlite_shell_reports_an_sql_error_goes_on_and_exits_1() {
    let shell = program("sqlite-shell");
    let ran = cold_and_warm(|cache| {
        run(
            &["--cache-dir", cache, "--env", "HOME=/"],
            &shell,
            &[],
            b"SELECT 1;\nSELECT nope;\nSELECT 2;\n",
        )
    });
    ran.assert(
        1,
        "1\n2\n",
        "Parse error near line 2: no such column: nope\n  SELECT nope;\n         ^--- error here\n",
    );
}

#[test]
fn sqlite_shell_keeps_a_database_file_in_a_preopened_directory() {
    let shell = program("sqlite-shell");
    let (created, queried, files) = cold_and_warm(|cache| {
        // HOME names the preopened directory, so the shell reads the
        // `.sqliterc` there: CSV with a header line.
        let data = dir_with(&[(".sqliterc", b".headers on\n.mode csv\n")]);
        let mapping = format!("{}::/data", path(data.path()));
        let flags = [
            "--cache-dir",
            cache,
            "--dir",
            &mapping,
            "--env",
            "HOME=/data",
        ];
        let created = run(
            &flags,
            &shell,
            &["/data/shop.db"],
            b"CREATE TABLE stock(item TEXT, qty INTEGER);\n\
              INSERT INTO stock VALUES ('bolt', 10), ('nut', 25);\n",
        );
        let queried = run(
            &flags,
            &shell,
            &["/data/shop.db"],
            b"SELECT item, qty * 2 AS double FROM stock ORDER BY qty;\n",
        );
        let db = read(data.path(), "shop.db");
        (
            created,
            queried,
            (names(data.path()), db.starts_with(b"SQLite format 3\0")),
        )
    });
    created.assert(0, "", "");
    // CSV rows end in CRLF, as RFC 4180 and the shell's `.mode csv` have it.
    queried.assert(0, "item,double\r\nbolt,20\r\nnut,50\r\n", "");
    assert_eq!(
        files,
        (vec![".sqliterc".to_owned(), "shop.db".to_owned()], true)
    );
}

// ---- bzip2 ----------------------------------------------------------------

/// Twenty lines of text, 1,051 bytes.
fn fox_lines() -> String {
    (1..=20)
        .map(|i| format!("line {i}: the quick brown fox jumps over the lazy dog\n"))
        .collect()
}

/// `fox_lines()` as Debian's bzip2 1.0.8 compresses it (`bzip2 -c`, block
/// size 900k): 169 bytes.
const FOX_LINES_BZ2: &str = concat!(
    "425a68393141592653598e668112000136d980001040007ff03ffffff03000da8114ff",
    "5500fd51a119a4623046060d3469a613132602069814aa53ca0340680321b53649e64d",
    "a4f726a4dc4d4991332604cc8f66819d539a06846000000061f5c31d9e3cdb73e74924",
    "925f64d84de4c09b49bc4d09893813889a13a89913f09813793226a4d84e04e727c133",
    "2712624dc4fe2684c44d49a93c8ab913913fc5dc914e14242399a04480",
);

fn fox_lines_bz2() -> Vec<u8> {
    (0..FOX_LINES_BZ2.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&FOX_LINES_BZ2[i..i + 2], 16).expect("hex"))
        .collect()
}

#[test]
fn bzip2_compresses_and_decompresses_files_in_a_preopened_directory() {
    let bzip2 = program("bzip2");
    let text = fox_lines();
    let (compressed, decompressed) = cold_and_warm(|cache| {
        let data = dir_with(&[("fox.txt", text.as_bytes())]);
        let mapping = format!("{}::/data", path(data.path()));
        let flags = ["--cache-dir", cache, "--dir", &mapping];
        // `-k`: keep the input beside the `.bz2`.
        let compressed = (
            run(&flags, &bzip2, &["-k", "/data/fox.txt"], b""),
            names(data.path()),
            read(data.path(), "fox.txt.bz2"),
        );
        // Decompressing replaces the `.bz2` by the file.
        std::fs::remove_file(data.path().join("fox.txt")).expect("fox.txt removed");
        let decompressed = (
            run(&flags, &bzip2, &["-d", "/data/fox.txt.bz2"], b""),
            names(data.path()),
            read(data.path(), "fox.txt"),
        );
        (compressed, decompressed)
    });
    compressed.0.assert(0, "", "");
    assert_eq!(compressed.1, ["fox.txt", "fox.txt.bz2"]);
    assert!(compressed.2 == fox_lines_bz2(), "{:02x?}", compressed.2);
    decompressed.0.assert(0, "", "");
    assert_eq!(decompressed.1, ["fox.txt"]);
    assert_eq!(String::from_utf8_lossy(&decompressed.2), text);
}

#[test]
fn bzip2_compresses_stdin_to_stdout() {
    let bzip2 = program("bzip2");
    let ran =
        cold_and_warm(|cache| run(&["--cache-dir", cache], &bzip2, &[], fox_lines().as_bytes()));
    ran.assert(0, fox_lines_bz2(), "");
}

#[test]
fn bzip2_takes_options_from_the_bzip2_environment_variable() {
    let bzip2 = program("bzip2");
    let (ran, files) = cold_and_warm(|cache| {
        let data = dir_with(&[("fox.txt.bz2", &fox_lines_bz2())]);
        let mapping = format!("{}::/data", path(data.path()));
        // BZIP2=-dc: decompress to stdout, leaving the file alone.
        let ran = run(
            &[
                "--cache-dir",
                cache,
                "--dir",
                &mapping,
                "--env",
                "BZIP2=-dc",
            ],
            &bzip2,
            &["/data/fox.txt.bz2"],
            b"",
        );
        (ran, names(data.path()))
    });
    ran.assert(0, fox_lines(), "");
    assert_eq!(files, ["fox.txt.bz2"]);
}

#[test]
fn bzip2_will_not_overwrite_a_file_and_exits_1() {
    let bzip2 = program("bzip2");
    let (ran, kept) = cold_and_warm(|cache| {
        let data = dir_with(&[("fox.txt", b"new"), ("fox.txt.bz2", b"old")]);
        let mapping = format!("{}::/data", path(data.path()));
        let ran = run(
            &["--cache-dir", cache, "--dir", &mapping, "--argv0", "bzip2"],
            &bzip2,
            &["/data/fox.txt"],
            b"",
        );
        (ran, read(data.path(), "fox.txt.bz2"))
    });
    ran.assert(
        1,
        "",
        "bzip2: Output file /data/fox.txt.bz2 already exists.\n",
    );
    assert_eq!(kept, b"old");
}

// ---- The modules ----------------------------------------------------------

/// Reads an unsigned LEB128 number at `*at`.
fn leb(bytes: &[u8], at: &mut usize) -> u64 {
    let (mut n, mut shift) = (0u64, 0);
    loop {
        let b = bytes[*at];
        *at += 1;
        n |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return n;
        }
        shift += 7;
    }
}

fn wasm_name<'a>(bytes: &'a [u8], at: &mut usize) -> &'a str {
    let len = usize::try_from(leb(bytes, at)).expect("a name length");
    let s = std::str::from_utf8(&bytes[*at..*at + len]).expect("a UTF-8 name");
    *at += len;
    s
}

/// The module names of a module's imports and the names of its function
/// exports.
fn imports_and_exports(bytes: &[u8]) -> (Vec<String>, Vec<String>) {
    assert_eq!(&bytes[..8], b"\0asm\x01\0\0\0", "a wasm module");
    let (mut imports, mut exports) = (Vec::new(), Vec::new());
    let mut at = 8;
    while at < bytes.len() {
        let id = bytes[at];
        at += 1;
        let size = usize::try_from(leb(bytes, &mut at)).expect("a section size");
        let end = at + size;
        let mut p = at;
        match id {
            2 => {
                for _ in 0..leb(bytes, &mut p) {
                    imports.push(wasm_name(bytes, &mut p).to_owned());
                    wasm_name(bytes, &mut p);
                    let kind = bytes[p];
                    p += 1;
                    let limits = |p: &mut usize| {
                        let flags = bytes[*p];
                        *p += 1;
                        leb(bytes, p);
                        if flags & 1 != 0 {
                            leb(bytes, p);
                        }
                    };
                    match kind {
                        0 => {
                            leb(bytes, &mut p);
                        }
                        1 => {
                            p += 1;
                            limits(&mut p);
                        }
                        2 => limits(&mut p),
                        3 => p += 2,
                        other => panic!("import kind {other}"),
                    }
                }
            }
            7 => {
                for _ in 0..leb(bytes, &mut p) {
                    let export = wasm_name(bytes, &mut p).to_owned();
                    let kind = bytes[p];
                    p += 1;
                    leb(bytes, &mut p);
                    if kind == 0 {
                        exports.push(export);
                    }
                }
            }
            _ => {}
        }
        at = end;
    }
    (imports, exports)
}

#[test]
fn each_program_is_a_wasi_command_that_imports_only_preview1() {
    for name in ["lua", "sqlite-shell", "bzip2"] {
        let bytes = std::fs::read(program(name)).expect("the committed module");
        let (imports, exports) = imports_and_exports(&bytes);
        assert!(!imports.is_empty(), "{name} imports nothing");
        assert!(
            imports.iter().all(|m| m == "wasi_snapshot_preview1"),
            "{name} imports from {imports:?}"
        );
        assert!(exports.iter().any(|e| e == "_start"), "{name}: {exports:?}");
    }
}
