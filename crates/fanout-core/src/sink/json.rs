//! `--json`: one JSON object per finished job on stdout, in place of the
//! job's output. Byte strings that are UTF-8 become JSON strings; others
//! become `{"base64": "..."}`, so nothing is lost or mangled. Outputs are
//! streamed from their spool files, never read whole into memory.

use std::fs::File;
use std::io::{self, Write};
use std::mem::ManuallyDrop;
use std::os::fd::FromRawFd;
use std::time::UNIX_EPOCH;

use base64::engine::general_purpose::STANDARD;
use base64::write::EncoderWriter;

use crate::event::{Event, Sink};
use crate::exec::Captured;
use crate::job::{ExitKind, JobResult, KillReason};

/// Writes a JSON line per finished job to fd 1.
#[derive(Debug)]
pub struct JsonLines {
    out: ManuallyDrop<File>,
    buf: Vec<u8>,
}

impl JsonLines {
    /// JSON lines on the process's stdout.
    pub fn stdout() -> Self {
        // SAFETY: fd 1 stays open for the life of the process; ManuallyDrop
        // keeps this handle from closing it.
        let out = unsafe { File::from_raw_fd(1) };
        JsonLines {
            out: ManuallyDrop::new(out),
            buf: Vec::new(),
        }
    }

    fn write(&mut self, r: &JobResult) -> io::Result<()> {
        let b = &mut self.buf;
        b.clear();
        let (exit, signal) = match r.exit {
            ExitKind::Code(c) => (Some(c), None),
            ExitKind::Signal(s) => (None, Some(s)),
            ExitKind::SpawnFailed(_) => (Some(127), None),
        };
        let start = r.started_at.duration_since(UNIX_EPOCH).unwrap_or_default();
        write!(b, "{{\"seq\":{},\"slot\":{},\"args\":[", r.seq, r.slot)?;
        for (i, a) in r.records.values().enumerate() {
            if i > 0 {
                b.push(b',');
            }
            bytes(b, a);
        }
        b.extend_from_slice(b"],\"command\":");
        bytes(b, &r.command);
        write!(
            b,
            ",\"exit\":{},\"signal\":{},\"killed\":{},\"attempt\":{},\"start\":{:.3},\"runtime\":{:.3},\"cpu_time\":{:.3},\"max_rss_kib\":{}",
            opt(exit),
            opt(signal),
            match r.killed {
                Some(KillReason::Timeout) => "\"timeout\"",
                Some(KillReason::Memory) => "\"memfree\"",
                None => "null",
            },
            r.attempt + 1,
            start.as_secs_f64(),
            r.runtime.as_secs_f64(),
            r.cpu_time.as_secs_f64(),
            r.max_rss_kib,
        )?;
        b.extend_from_slice(b",\"stdout\":");
        self.out.write_all(b)?;
        stream(&mut *self.out, &r.stdout)?;
        self.out.write_all(b",\"stderr\":")?;
        stream(&mut *self.out, &r.stderr)?;
        self.out.write_all(b"}\n")
    }
}

impl Sink for JsonLines {
    fn event(&mut self, event: Event<'_>) -> io::Result<()> {
        match event {
            Event::Finished(r) => self.write(&r),
            _ => Ok(()),
        }
    }
}

fn opt(v: Option<i32>) -> String {
    v.map_or_else(|| "null".into(), |v| v.to_string())
}

/// A byte string as a JSON string, or as `{"base64": ...}` when it is not
/// UTF-8.
fn bytes(out: &mut Vec<u8>, b: &[u8]) {
    match std::str::from_utf8(b) {
        Ok(s) => serde_json::to_writer(&mut *out, s).expect("writing to a Vec"),
        Err(_) => {
            out.extend_from_slice(b"{\"base64\":\"");
            let mut s = String::new();
            base64::Engine::encode_string(&STANDARD, b, &mut s);
            out.extend_from_slice(s.as_bytes());
            out.extend_from_slice(b"\"}");
        }
    }
}

/// A captured stream, chunk by chunk: first checked for UTF-8 (a code
/// point may straddle two chunks), then written as a string or base64.
fn stream(w: &mut impl Write, c: &Captured) -> io::Result<()> {
    if is_utf8(c)? {
        w.write_all(b"\"")?;
        let mut carry = Vec::new();
        c.for_each_chunk(|chunk| {
            carry.extend_from_slice(chunk);
            let valid = match std::str::from_utf8(&carry) {
                Ok(s) => s.len(),
                Err(e) => e.valid_up_to(),
            };
            let s = std::str::from_utf8(&carry[..valid]).expect("checked above");
            let quoted = serde_json::to_string(s).expect("a str always serializes");
            w.write_all(&quoted.as_bytes()[1..quoted.len() - 1])?;
            carry.drain(..valid);
            Ok(())
        })?;
        w.write_all(b"\"")
    } else {
        w.write_all(b"{\"base64\":\"")?;
        let mut enc = EncoderWriter::new(&mut *w, &STANDARD);
        c.for_each_chunk(|chunk| enc.write_all(chunk))?;
        enc.finish()?.write_all(b"\"}")
    }
}

fn is_utf8(c: &Captured) -> io::Result<bool> {
    let mut carry: Vec<u8> = Vec::new();
    let mut ok = true;
    c.for_each_chunk(|chunk| {
        if !ok {
            return Ok(());
        }
        carry.extend_from_slice(chunk);
        match std::str::from_utf8(&carry) {
            Ok(_) => carry.clear(),
            // An incomplete code point at the end may finish in the next
            // chunk; anything else is not UTF-8.
            Err(e) if e.error_len().is_none() => {
                carry.drain(..e.valid_up_to());
            }
            Err(_) => ok = false,
        }
        Ok(())
    })?;
    Ok(ok && carry.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_strings_are_strings_or_base64() {
        let mut out = Vec::new();
        bytes(&mut out, "a\"b\n é".as_bytes());
        assert_eq!(out, r#""a\"b\n é""#.as_bytes());
        out.clear();
        bytes(&mut out, b"\xff\x00");
        assert_eq!(out, br#"{"base64":"/wA="}"#);
    }

    #[test]
    fn a_code_point_split_over_spool_chunks_stays_text() {
        let spool = crate::exec::Spool::new(1);
        let mut c = Captured::default();
        c.push("é".as_bytes(), &spool).unwrap();
        c.push("ü!".as_bytes(), &spool).unwrap();
        assert!(is_utf8(&c).unwrap());
        let mut out = Vec::new();
        stream(&mut out, &c).unwrap();
        assert_eq!(out, "\"éü!\"".as_bytes());
        c.push(b"\xff", &spool).unwrap();
        assert!(!is_utf8(&c).unwrap());
    }
}
