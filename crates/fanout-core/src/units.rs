//! Numbers with units as GNU parallel reads them: sizes with binary and
//! decimal prefixes (`10M`, `1.5k`, `2Gi`) and durations with time units
//! (`90`, `1.5`, `2m`, `1h30m`, `1d`).

use std::time::Duration;

/// Parses a size: a number, optionally followed by one prefix. Capital
/// `K M G T P E` and any `Ki`/`ki`-style prefix are powers of 1024; small
/// `k m g t p e` are powers of 1000, as in GNU parallel.
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num.parse().ok()?;
    let factor = match unit {
        "" => 1.0,
        u => prefix_factor(u)?,
    };
    let v = n * factor;
    (v.is_finite() && v >= 0.0 && v < u64::MAX as f64).then(|| v.round() as u64)
}

fn prefix_factor(u: &str) -> Option<f64> {
    const BINARY: &str = "KMGTPE";
    const DECIMAL: &str = "kmgtpe";
    let mut chars = u.chars();
    let p = chars.next()?;
    let rest = chars.as_str();
    let power = |i: usize, base: f64| base.powi(i as i32 + 1);
    if rest.eq_ignore_ascii_case("i") {
        let i = BINARY.find(p.to_ascii_uppercase())?;
        return Some(power(i, 1024.0));
    }
    if !rest.is_empty() {
        return None;
    }
    match (BINARY.find(p), DECIMAL.find(p)) {
        (Some(i), _) => Some(power(i, 1024.0)),
        (_, Some(i)) => Some(power(i, 1000.0)),
        _ => None,
    }
}

/// Parses a duration: plain seconds (`2.5`), or numbers each followed by
/// `d`, `h`, `m` or `s` (`1h30m`, `2m`, `1d2h3m4.5s`), case-insensitive.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if let Ok(secs) = s.parse::<f64>() {
        return Duration::try_from_secs_f64(secs).ok();
    }
    let mut total = 0.0;
    let mut rest = s;
    while !rest.is_empty() {
        let end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .filter(|&i| i > 0)?;
        let n: f64 = rest[..end].parse().ok()?;
        let unit = rest[end..].chars().next()?;
        total += n * match unit.to_ascii_lowercase() {
            's' => 1.0,
            'm' => 60.0,
            'h' => 3600.0,
            'd' => 86400.0,
            _ => return None,
        };
        rest = &rest[end + 1..];
    }
    Duration::try_from_secs_f64(total).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_use_binary_capitals_and_decimal_small_letters() {
        assert_eq!(parse_size("10"), Some(10));
        assert_eq!(parse_size("1K"), Some(1024));
        assert_eq!(parse_size("1k"), Some(1000));
        assert_eq!(parse_size("10M"), Some(10 << 20));
        assert_eq!(parse_size("2m"), Some(2_000_000));
        assert_eq!(parse_size("1.5G"), Some(3 << 29));
        assert_eq!(parse_size("1gi"), Some(1 << 30));
        assert_eq!(parse_size("1Ki"), Some(1024));
        assert_eq!(parse_size("x"), None);
        assert_eq!(parse_size("1Q"), None);
        assert_eq!(parse_size("1KK"), None);
        assert_eq!(parse_size(""), None);
    }

    #[test]
    fn durations_take_plain_seconds_and_unit_sequences() {
        let s = Duration::from_secs_f64;
        assert_eq!(parse_duration("2"), Some(s(2.0)));
        assert_eq!(parse_duration("0.5"), Some(s(0.5)));
        assert_eq!(parse_duration("2m"), Some(s(120.0)));
        assert_eq!(parse_duration("1h30m"), Some(s(5400.0)));
        assert_eq!(parse_duration("1d2h3m4.5s"), Some(s(93784.5)));
        assert_eq!(parse_duration("3S"), Some(s(3.0)));
        assert_eq!(parse_duration("abc"), None);
        assert_eq!(parse_duration("-1"), None);
        assert_eq!(parse_duration("1x"), None);
        assert_eq!(parse_duration("h"), None);
        assert_eq!(parse_duration(""), None);
    }
}
