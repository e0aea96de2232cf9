//! The frames between a process pool and its children, over two pipes.
//! Every frame is `u32 length (little-endian) | u8 version | u8 kind |
//! body`; the reader checks all three before it trusts the body. The
//! arguments and results themselves are postcard, encoded by the task's
//! own types.
//!
//! - parent → child, [`Kind::Batch`]: `u64 batch | u16 name length | name |
//!   u32 count | (u32 length)*count | the arguments back to back`;
//! - child → parent, [`Kind::Results`]: `u64 batch | u32 first index |
//!   u32 count | (u8 status | u32 length | result or error text)*count`
//!   (status 0 a result, else a [`Failure`]), the tasks finished since the
//!   child last flushed, then [`Kind::End`]: `u64 batch | u64 nanoseconds
//!   the batch took`.
//!
//! A batch's arguments and a run of results are one frame each, not one a
//! task: for tiny tasks the frames, not the tasks, were the cost.

use std::io::{self, Read, Write};

use crate::TaskError;

/// The protocol's version: a child of another build refuses the frames.
pub const VERSION: u8 = 2;
/// The largest frame either side accepts (a task's argument or result).
pub const MAX_FRAME: usize = 1 << 30;

/// The kinds of frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    /// Tasks to run.
    Batch = 1,
    /// The batch is finished.
    End = 4,
    /// A run of tasks' results or errors.
    Results = 5,
}

impl TryFrom<u8> for Kind {
    type Error = io::Error;
    fn try_from(b: u8) -> io::Result<Kind> {
        Ok(match b {
            1 => Kind::Batch,
            4 => Kind::End,
            5 => Kind::Results,
            _ => return Err(bad(format!("unknown frame kind {b}"))),
        })
    }
}

/// Why a task failed inside a child, on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Failure {
    /// The function panicked (the message follows).
    Panicked = 1,
    /// No task of that name (the name follows).
    Unregistered = 2,
    /// The argument or result would not (de)code (the message follows).
    Codec = 3,
}

impl Failure {
    /// The error, with the text that came with it.
    pub fn error(self, text: String) -> TaskError {
        match self {
            Failure::Panicked => TaskError::Panicked { message: text },
            Failure::Unregistered => TaskError::Unregistered { name: text },
            Failure::Codec => TaskError::Codec(text),
        }
    }

    /// The wire form of `e` and its text (errors a child cannot have
    /// travel as codec errors, which they are not: children only send the
    /// three above).
    pub fn of(e: &TaskError) -> (Failure, String) {
        match e {
            TaskError::Panicked { message } => (Failure::Panicked, message.clone()),
            TaskError::Unregistered { name } => (Failure::Unregistered, name.clone()),
            other => (Failure::Codec, other.to_string()),
        }
    }
}

impl TryFrom<u8> for Failure {
    type Error = io::Error;
    fn try_from(b: u8) -> io::Result<Failure> {
        Ok(match b {
            1 => Failure::Panicked,
            2 => Failure::Unregistered,
            3 => Failure::Codec,
            _ => return Err(bad(format!("unknown failure {b}"))),
        })
    }
}

/// A frame as read: its kind and body.
pub struct Frame {
    /// What it is.
    pub kind: Kind,
    /// What follows the header.
    pub body: Vec<u8>,
}

/// Writes one frame made of `parts`, in one `write_all`: through a
/// `BufWriter` a frame is then never split around a later flush (a reader
/// waiting for its end would wait on the next task).
pub fn write_frame(
    w: &mut impl Write,
    buf: &mut Vec<u8>,
    kind: Kind,
    parts: &[&[u8]],
) -> io::Result<()> {
    let body: usize = parts.iter().map(|p| p.len()).sum();
    buf.clear();
    buf.extend_from_slice(&head(kind, body)?);
    for p in parts {
        buf.extend_from_slice(p);
    }
    w.write_all(buf)
}

/// The status byte of a task that returned a result.
pub const VALUE: u8 = 0;

/// The head of a frame of `body` bytes of `kind`, for a writer that
/// builds the body in place after it.
pub fn head(kind: Kind, body: usize) -> io::Result<[u8; 6]> {
    if body + 2 > MAX_FRAME {
        return Err(bad(format!("frame of {body} bytes is too long")));
    }
    let mut h = [0u8; 6];
    h[..4].copy_from_slice(&((body + 2) as u32).to_le_bytes());
    h[4] = VERSION;
    h[5] = kind as u8;
    Ok(h)
}

/// Reads one frame; `None` at a clean end of the stream.
pub fn read_frame(r: &mut impl Read) -> io::Result<Option<Frame>> {
    let mut len = [0u8; 4];
    match r.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = u32::from_le_bytes(len) as usize;
    if !(2..=MAX_FRAME).contains(&len) {
        return Err(bad(format!("frame length {len}")));
    }
    let mut head = [0u8; 2];
    r.read_exact(&mut head)?;
    if head[0] != VERSION {
        return Err(bad(format!("protocol version {}, not {VERSION}", head[0])));
    }
    let kind = Kind::try_from(head[1])?;
    let mut body = vec![0u8; len - 2];
    r.read_exact(&mut body)?;
    Ok(Some(Frame { kind, body }))
}

/// Reads the body of a frame field by field, each read checked.
pub struct Fields<'a>(pub &'a [u8]);

impl<'a> Fields<'a> {
    /// The next `n` bytes.
    pub fn bytes(&mut self, n: usize) -> io::Result<&'a [u8]> {
        if self.0.len() < n {
            return Err(bad("frame cut short".into()));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    /// A little-endian u16.
    pub fn u16(&mut self) -> io::Result<u16> {
        Ok(u16::from_le_bytes(
            self.bytes(2)?.try_into().expect("2 bytes"),
        ))
    }

    /// A little-endian u32.
    pub fn u32(&mut self) -> io::Result<u32> {
        Ok(u32::from_le_bytes(
            self.bytes(4)?.try_into().expect("4 bytes"),
        ))
    }

    /// A little-endian u64.
    pub fn u64(&mut self) -> io::Result<u64> {
        Ok(u64::from_le_bytes(
            self.bytes(8)?.try_into().expect("8 bytes"),
        ))
    }
}

/// An error for a frame that breaks the protocol.
pub fn bad(why: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, why)
}
