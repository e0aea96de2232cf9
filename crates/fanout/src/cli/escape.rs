//! C-style escapes: `-d`'s full set (`\n`, `\t`, `\0`, `\\`, `\xHH`, octal
//! `\NNN`) and `--tagstring`'s smaller one, each as GNU parallel decodes it.

/// Decodes the escapes GNU parallel accepts in a delimiter.
pub fn unescape(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s[i] != b'\\' || i + 1 == s.len() {
            out.push(s[i]);
            i += 1;
            continue;
        }
        let c = s[i + 1];
        i += 2;
        let simple = match c {
            b'n' => Some(b'\n'),
            b't' => Some(b'\t'),
            b'r' => Some(b'\r'),
            b'a' => Some(7),
            b'b' => Some(8),
            b'f' => Some(12),
            b'v' => Some(11),
            b'\\' => Some(b'\\'),
            _ => None,
        };
        if let Some(b) = simple {
            out.push(b);
        } else if c == b'x' {
            let n = s[i..]
                .iter()
                .take(2)
                .take_while(|b| b.is_ascii_hexdigit())
                .count();
            let v = std::str::from_utf8(&s[i..i + n])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            out.push(v.unwrap_or(b'x'));
            i += n;
        } else if c.is_ascii_digit() && c < b'8' {
            let n = s[i..]
                .iter()
                .take(2)
                .take_while(|b| (b'0'..b'8').contains(b))
                .count();
            let digits = &s[i - 1..i + n];
            let v = std::str::from_utf8(digits)
                .ok()
                .and_then(|o| u32::from_str_radix(o, 8).ok());
            out.push(v.unwrap_or(0) as u8);
            i += n;
        } else {
            out.extend_from_slice(&[b'\\', c]);
        }
    }
    out
}

/// Decodes `--tagstring` as GNU's `unquote_printf` does: `\t`, `\n`, `\r`, then
/// three-digit octal `\NNN`, then one-digit `\N`; anything else (even `\\`) stays
/// as written, so `'\033[31m{}'` tags in colour.
pub fn unquote_printf(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        let rest = &s[i..];
        let (byte, used) = match rest {
            [b'\\', b't', ..] => (b'\t', 2),
            [b'\\', b'n', ..] => (b'\n', 2),
            [b'\\', b'r', ..] => (b'\r', 2),
            [b'\\', a, b, c, ..] if [a, b, c].iter().all(|d| (b'0'..b'8').contains(d)) => {
                let v = (*a - b'0') as u32 * 64 + (*b - b'0') as u32 * 8 + (*c - b'0') as u32;
                (v as u8, 4)
            }
            [b'\\', d, ..] if (b'0'..b'8').contains(d) => (*d - b'0', 2),
            [b, ..] => (*b, 1),
            [] => unreachable!("i < s.len()"),
        };
        out.push(byte);
        i += used;
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn tagstring_escapes_as_gnu() {
        assert_eq!(super::unquote_printf(br"\033[31m"), b"\x1b[31m");
        assert_eq!(super::unquote_printf(br"a\tb\n\0"), b"a\tb\n\0");
        assert_eq!(super::unquote_printf(br"\\q\x41"), br"\\q\x41");
        assert_eq!(super::unquote_printf(br"\"), br"\");
    }

    #[test]
    fn decodes_common_escapes() {
        assert_eq!(super::unescape(br"\t"), b"\t");
        assert_eq!(super::unescape(br"\0"), b"\0");
        assert_eq!(super::unescape(br"a\x2cb"), b"a,b");
        assert_eq!(super::unescape(br"\101"), b"A");
        assert_eq!(super::unescape(br"::"), b"::");
        assert_eq!(super::unescape(br"\q"), br"\q");
    }
}
