//! The two C math functions the binary's dependencies call, defined here so
//! that the binary does not load libm at all.
//!
//! indicatif's rate estimate calls `pow` and SQLite (bundled, for `--sqlworker`)
//! calls `log`; nothing else in fanout takes anything from libm. Loading the
//! library for them cost every run ~290 KiB of resident memory (its code and
//! data mapped in and relocated, 6% of a local run's peak RSS) and a few
//! system calls at start-up (issue "Machine's limit", P3 and P4). A symbol the
//! executable defines itself satisfies the reference, so the linker, which
//! links libraries only as needed, leaves libm out. The bodies are the
//! `libm` crate's, a port of musl's, which is accurate to within 1 ulp.

/// `pow(3)`: `x` raised to the power `y`.
#[no_mangle]
pub extern "C" fn pow(x: f64, y: f64) -> f64 {
    libm::pow(x, y)
}

/// `log(3)`: the natural logarithm of `x`.
#[no_mangle]
pub extern "C" fn log(x: f64) -> f64 {
    libm::log(x)
}

#[cfg(test)]
mod tests {
    #[test]
    fn pow_and_log_agree_with_std_on_ordinary_values() {
        for (x, y) in [
            (0.1f64, 0.5f64),
            (2.0, 10.0),
            (10.0, -3.0),
            (0.5, 1.0 / 3.0),
        ] {
            let want: f64 = x.powf(y);
            assert!(
                (super::pow(x, y) - want).abs() <= want.abs() * 1e-15,
                "{x}^{y}"
            );
        }
        assert_eq!(super::log(1.0), 0.0);
        assert!((super::log(std::f64::consts::E) - 1.0).abs() < 1e-15);
        assert!(super::log(-1.0).is_nan());
    }

    #[test]
    fn the_binary_needs_no_libm() {
        // The release binary is what users run; the test binary links the
        // same way, so its dynamic section shows the same libraries.
        let exe = std::env::current_exe().expect("test binary");
        let out = std::process::Command::new("readelf")
            .arg("-d")
            .arg(&exe)
            .output()
            .expect("readelf (binutils, which the C toolchain brings)");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("libc.so"), "readelf output: {text}");
        assert!(!text.contains("libm.so"), "libm is still linked: {text}");
    }
}
