//! Link flags for the `fanout` binary.

fn main() {
    // Relative relocations packed (DT_RELR, glibc 2.36+, GNU ld 2.38+ or
    // lld 15+): 4 KiB of .relr.dyn instead of 353 KiB of .rela.dyn, which
    // the loader read, and the page cache mapped in, at every start
    // (measured: peak RSS 8.5 -> 7.1 MiB; issue "Machine's limit", P4).
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
        hot_code_first();
    }
}

/// The functions a local run executes, first in `.text` (lld's symbol
/// ordering; `scripts/hot-code` writes the list). A page fault on code maps
/// the 64 KiB around it, so scattered they kept ~3.4 MiB of code resident;
/// together, a fraction of that (issue "Machine's limit", P3 and P4).
/// Names the list holds that a build lacks are skipped without a warning:
/// a stale list costs memory, never a failed build.
fn hot_code_first() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it");
    let list = std::path::Path::new(&dir).join("hot-code.txt");
    println!("cargo:rerun-if-changed={}", list.display());
    if list.exists() && uses_lld() {
        println!(
            "cargo:rustc-link-arg-bins=-Wl,--symbol-ordering-file={}",
            list.display()
        );
        println!("cargo:rustc-link-arg-bins=-Wl,--no-warn-symbol-ordering");
    }
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
