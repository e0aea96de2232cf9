//! Link flags for the `fanout` binary.

fn main() {
    // Relative relocations packed (DT_RELR, glibc 2.36+, GNU ld 2.38+ or
    // lld 15+): the loader reads a few hundred bytes instead of ~350 KiB
    // of .rela.dyn at every start, which is page faults fanout's start-up
    // paid for on every run (issue "Machine's limit", P3).
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}
