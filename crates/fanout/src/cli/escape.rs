//! C-style escapes in `-d`: `\n`, `\t`, `\0`, `\\`, `\xHH` and octal `\NNN`.

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

#[cfg(test)]
mod tests {
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
