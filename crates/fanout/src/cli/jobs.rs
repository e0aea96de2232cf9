//! `-j`: N, N%, +N, -N and 0, as GNU parallel reads them.

/// Resolves a `-j` value against the number of CPU threads. `Ok(None)`
/// means 0: as many as the system allows.
pub fn parse_jobs(s: &str, cpus: usize) -> Result<Option<usize>, String> {
    let bad = || format!("invalid value `{s}` for -j (expected N, N%, +N, -N or 0)");
    // As GNU parallel: N, +N and -N are whole numbers in digits (no `1e99`,
    // no `2.5`); only a percentage may have a fraction.
    let digits = |t: &str, fraction: bool| -> Result<f64, String> {
        let mut parts = t.splitn(2, '.');
        let whole = parts.next().unwrap_or("");
        let frac = parts.next();
        let all_digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
        let ok = all_digits(whole)
            && match frac {
                None => !whole.is_empty(),
                Some(f) => fraction && all_digits(f) && !(whole.is_empty() && f.is_empty()),
            };
        if !ok {
            return Err(bad());
        }
        t.parse().map_err(|_| bad())
    };
    let num = |t: &str| digits(t, false);
    let cpus_f = cpus as f64;
    let n = if let Some(p) = s.strip_suffix('%') {
        (cpus_f * digits(p, true)? / 100.0).floor()
    } else if let Some(p) = s.strip_prefix('+') {
        cpus_f + num(p)?
    } else if let Some(p) = s.strip_prefix('-') {
        cpus_f - num(p)?
    } else {
        let v = num(s)?;
        if v == 0.0 {
            return Ok(None);
        }
        v.floor()
    };
    Ok(Some(n.clamp(1.0, 1_000_000.0) as usize))
}

#[cfg(test)]
mod tests {
    use super::parse_jobs;
    use proptest::prelude::*;

    #[test]
    fn reads_gnu_forms() {
        assert_eq!(parse_jobs("4", 8), Ok(Some(4)));
        assert_eq!(parse_jobs("50%", 8), Ok(Some(4)));
        assert_eq!(parse_jobs("+2", 8), Ok(Some(10)));
        assert_eq!(parse_jobs("-2", 8), Ok(Some(6)));
        assert_eq!(parse_jobs("-20", 8), Ok(Some(1)));
        assert_eq!(parse_jobs("0", 8), Ok(None));
        assert_eq!(parse_jobs("1%", 8), Ok(Some(1)));
        assert_eq!(parse_jobs("2.5%", 80), Ok(Some(2)));
        for bad in [
            "", "x", "2x", "%", "+", "-x", "nan", "inf", "--1", "1e99", "2.5", "+1.5", "1e2%", ".%",
        ] {
            assert!(parse_jobs(bad, 8).is_err(), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn any_text_gives_a_slot_count_or_an_error(s in ".{0,12}", cpus in 1usize..256) {
            if let Ok(Some(n)) = parse_jobs(&s, cpus) {
                prop_assert!(n >= 1);
            }
        }
    }
}
