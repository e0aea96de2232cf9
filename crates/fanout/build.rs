//! Link flags for the `fanout` binary.

fn main() {
    // Relative relocations packed (DT_RELR, glibc 2.36+, GNU ld 2.38+ or
    // lld 15+): 4 KiB of .relr.dyn instead of 353 KiB of .rela.dyn, which
    // the loader read, and the page cache mapped in, at every start
    // (measured: peak RSS 8.5 -> 7.1 MiB; issue "Machine's limit", P4).
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
        hot_code_first();
        static_unwinder();
    }
}

/// The unwinder (`_Unwind_*`, for backtraces; a release build aborts on
/// panic) linked into the binary from libgcc_eh.a instead of loaded from
/// libgcc_s.so.1: one library fewer to open, map and relocate at every
/// start, and the 84 KiB of it a local run kept resident (issue "Machine's
/// limit", P4). rustc and the C compiler driver both ask for `-lgcc_s`; a
/// linker script of that name, found first, answers with the archive.
fn static_unwinder() {
    if std::env::var("CARGO_CFG_TARGET_ENV").as_deref() != Ok("gnu") || !uses_lld() {
        return;
    }
    let dir =
        std::path::PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets it")).join("unwind");
    std::fs::create_dir_all(&dir).expect("OUT_DIR is writable");
    std::fs::write(dir.join("libgcc_s.so"), "INPUT(-lgcc_eh)\n").expect("OUT_DIR is writable");
    println!("cargo:rustc-link-search=native={}", dir.display());
}

/// The functions a local run executes, first in `.text` (`scripts/hot-code`
/// writes the list). A page fault on code maps the 64 KiB around it, so
/// scattered they kept ~3.4 MiB of code resident; together, a fraction of
/// that (issue "Machine's limit", P3 and P4).
///
/// The list goes to the linker as a linker-script rule with one pattern per
/// function, not as lld's `--symbol-ordering-file`, because the exact names
/// do not survive a change: the hash in a legacy-mangled name
/// (`17h<16 hex digits>E`) changes with the crate's dependencies, and LTO
/// numbers the copies of an inlined function (`.1234`) afresh in every
/// build; one added dependency left a third of the exact names unmatched
/// and peak RSS went from 4.5 to 6 MiB. The patterns put a `*` where those
/// parts vary. Names a build lacks match nothing, without a warning: a
/// stale list costs memory, never a failed build.
fn hot_code_first() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it");
    let list = std::path::Path::new(&dir).join("hot-code.txt");
    println!("cargo:rerun-if-changed={}", list.display());
    let Ok(names) = std::fs::read_to_string(&list) else {
        return;
    };
    if !uses_lld() {
        return;
    }
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets it"));
    let script = out.join("hot-code.ld");
    std::fs::write(&script, linker_script(&names)).expect("OUT_DIR is writable");
    println!("cargo:rustc-link-arg-bins=-Wl,-T,{}", script.display());
}

/// Two output sections of the functions' own sections (`.text.<name>`,
/// rustc's function sections): `.text.hot` ahead of `.text` with the exact
/// names, so a fresh list lays out just the functions it names, and
/// `.text.warm` after it with each name's mangling hash as `*`, which in a
/// build whose hashes moved catches the listed functions again (with the
/// other instances of a generic one). Kept apart, the other instances do
/// not share the hot code's 64 KiB windows when the list is fresh.
fn linker_script(names: &str) -> String {
    let names: Vec<&str> = names
        .lines()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .collect();
    let exact = names.iter().map(|n| without_copy_number(n).to_string());
    let loose = names
        .iter()
        .filter_map(|n| without_hash(without_copy_number(n)));
    let mut seen = std::collections::HashSet::new();
    let mut s = String::new();
    for (section, rules, place) in [
        (".text.hot", exact.collect::<Vec<_>>(), "BEFORE"),
        (".text.warm", loose.collect(), "AFTER"),
    ] {
        s.push_str(&format!("SECTIONS\n{{\n  {section} :\n  {{\n"));
        for name in rules.into_iter().filter(|n| seen.insert(n.clone())) {
            // LLVM puts a function it knows is cold (`#[cold]`, as std's
            // `grow_one` is) in `.text.unlikely.<name>`; LTO's copies of
            // one function are `<name>.<number>`.
            s.push_str(&format!(
                "    *(.text.{name} .text.{name}.* .text.unlikely.{name} .text.unlikely.{name}.*)\n"
            ));
        }
        s.push_str(&format!("  }}\n}}\nINSERT {place} .text;\n"));
    }
    s
}

/// `name` without the number LTO gives a copy of a function (`.1234`),
/// which differs from build to build.
fn without_copy_number(name: &str) -> &str {
    match name.rsplit_once('.') {
        Some((base, n)) if !n.is_empty() && n.bytes().all(|c| c.is_ascii_digit()) => base,
        _ => name,
    }
}

/// A legacy-mangled `name` with its hash (`17h<16 hex digits>E`, which
/// changes with the crate's dependencies) as `*`; `None` for other names.
fn without_hash(name: &str) -> Option<String> {
    let (head, hash) = name.strip_suffix('E')?.rsplit_once("17h")?;
    let is_hash = hash.len() == 16 && hash.bytes().all(|c| c.is_ascii_hexdigit());
    is_hash.then(|| format!("{head}17h*E"))
}

/// Whether the binary is linked by rustc's own lld, the default for
/// x86_64 Linux since Rust 1.90 (GNU ld has no `--symbol-ordering-file`):
/// not when a linker or linker flavour is chosen by hand.
fn uses_lld() -> bool {
    let var = |k: &str| std::env::var(k).unwrap_or_default();
    let target = var("TARGET");
    let chosen = var("CARGO_ENCODED_RUSTFLAGS").contains("link")
        || std::env::var_os(format!(
            "CARGO_TARGET_{}_LINKER",
            target.to_uppercase().replace('-', "_")
        ))
        .is_some();
    target == "x86_64-unknown-linux-gnu" && !chosen && rustc_minor() >= 90
}

/// The minor version of the rustc that builds the binary (0 if unknown).
fn rustc_minor() -> u32 {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let out = std::process::Command::new(rustc).arg("--version").output();
    let text = out.map(|o| String::from_utf8_lossy(&o.stdout).into_owned());
    // "rustc 1.95.0 (...)"
    text.ok()
        .and_then(|t| t.split(['.', ' ']).nth(2).and_then(|m| m.parse().ok()))
        .unwrap_or(0)
}
