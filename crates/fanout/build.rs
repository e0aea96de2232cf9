//! Link flags for the `fanout` binary.

fn main() {
    // Relative relocations packed (DT_RELR, glibc 2.36+, GNU ld 2.38+ or
    // lld 15+): 4 KiB of .relr.dyn instead of 353 KiB of .rela.dyn, which
    // the loader read, and the page cache mapped in, at every start
    // (measured: peak RSS 8.5 -> 7.1 MiB; issue "Machine's limit", P4).
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}
