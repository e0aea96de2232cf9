//! A batch's encoded arguments and results, each kind in one buffer:
//! [`Packed`] holds many encoded values back to back with their ends,
//! [`Results`] holds each task's encoded result (or its error) by index.
//! A batch of tiny tasks is then a few allocations, not one per task — the
//! difference between a process pool at a few million tasks a second and
//! one several times faster (Python's `Pool.map` pickles a whole chunk as
//! one list for the same reason).

use serde::ser::{Serialize, SerializeSeq, Serializer};

use crate::TaskError;

/// Encoded values, one after another in one buffer.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Packed {
    bytes: Vec<u8>,
    /// Where each value ends in `bytes`.
    ends: Vec<usize>,
}

impl Packed {
    /// Room for `n` values.
    pub fn with_capacity(n: usize) -> Packed {
        Packed {
            bytes: Vec::with_capacity(n * 4),
            ends: Vec::with_capacity(n),
        }
    }

    /// How many values.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Value `i`.
    pub fn get(&self, i: usize) -> &[u8] {
        &self.bytes[self.start(i)..self.ends[i]]
    }

    fn start(&self, i: usize) -> usize {
        if i == 0 {
            0
        } else {
            self.ends[i - 1]
        }
    }

    /// Values `from..to` as one slice.
    pub fn span(&self, from: usize, to: usize) -> &[u8] {
        if from == to {
            return &[];
        }
        &self.bytes[self.start(from)..self.ends[to - 1]]
    }

    /// The values one by one.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &[u8]> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }

    /// Appends one value.
    pub fn push(&mut self, value: &[u8]) {
        self.bytes.extend_from_slice(value);
        self.ends.push(self.bytes.len());
    }

    /// Appends the postcard encoding of `value`.
    pub fn push_encoded<T: Serialize>(&mut self, value: &T) -> Result<(), TaskError> {
        append_encoded(value, &mut self.bytes)?;
        self.ends.push(self.bytes.len());
        Ok(())
    }

    /// Values `from..to`, for a serializer, as a sequence of byte strings
    /// (the wire form of `Vec<Vec<u8>>`).
    pub fn range(&self, from: usize, to: usize) -> PackedRange<'_> {
        PackedRange {
            packed: self,
            from,
            to,
        }
    }
}

impl From<Vec<Vec<u8>>> for Packed {
    fn from(values: Vec<Vec<u8>>) -> Packed {
        let mut p = Packed::with_capacity(values.len());
        values.iter().for_each(|v| p.push(v));
        p
    }
}

/// Appends the postcard encoding of `value` to `out`; on an error `out`
/// is as it was.
pub(crate) fn append_encoded<T: Serialize + ?Sized>(
    value: &T,
    out: &mut Vec<u8>,
) -> Result<(), TaskError> {
    let at = out.len();
    postcard::serialize_with_flavor(value, Append(out)).map_err(|e| {
        out.truncate(at);
        TaskError::Codec(e.to_string())
    })
}

/// A postcard output that appends to a borrowed buffer (postcard's own
/// `to_extend` takes the buffer by value and drops it on an error).
struct Append<'a>(&'a mut Vec<u8>);

impl postcard::ser_flavors::Flavor for Append<'_> {
    type Output = ();

    fn try_push(&mut self, data: u8) -> postcard::Result<()> {
        self.0.push(data);
        Ok(())
    }

    fn try_extend(&mut self, data: &[u8]) -> postcard::Result<()> {
        self.0.extend_from_slice(data);
        Ok(())
    }

    fn finalize(self) -> postcard::Result<()> {
        Ok(())
    }
}

/// Some of a [`Packed`]'s values, serialized as `Vec<Vec<u8>>` would be.
pub(crate) struct PackedRange<'a> {
    packed: &'a Packed,
    from: usize,
    to: usize,
}

impl Serialize for PackedRange<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.to - self.from))?;
        for i in self.from..self.to {
            seq.serialize_element(self.packed.get(i))?;
        }
        seq.end()
    }
}

/// Each task's result: its encoded value in a shared buffer, or its error.
#[derive(Debug, Clone, PartialEq)]
enum Entry {
    Pending,
    Value { start: usize, end: usize },
    Failed(TaskError),
}

/// A batch's results by task index, filled in any order.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Results {
    bytes: Vec<u8>,
    entries: Vec<Entry>,
}

impl Results {
    /// `n` tasks, none answered yet.
    pub fn pending(n: usize) -> Results {
        Results {
            bytes: Vec::new(),
            entries: vec![Entry::Pending; n],
        }
    }

    /// `n` tasks, every one failed with `e`.
    pub fn all_failed(n: usize, e: &TaskError) -> Results {
        Results {
            bytes: Vec::new(),
            entries: vec![Entry::Failed(e.clone()); n],
        }
    }

    /// How many tasks.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True while task `i` has no result.
    pub fn is_pending(&self, i: usize) -> bool {
        matches!(self.entries[i], Entry::Pending)
    }

    /// The tasks with no result yet.
    pub fn pending_indices(&self) -> Vec<usize> {
        (0..self.len()).filter(|&i| self.is_pending(i)).collect()
    }

    /// Task `i` returned `value` (encoded).
    pub fn set_value(&mut self, i: usize, value: &[u8]) {
        let start = self.bytes.len();
        self.bytes.extend_from_slice(value);
        self.entries[i] = Entry::Value {
            start,
            end: self.bytes.len(),
        };
    }

    /// Task `i` failed.
    pub fn set_failed(&mut self, i: usize, e: TaskError) {
        self.entries[i] = Entry::Failed(e);
    }

    /// The results in order, a pending one as cancelled.
    pub fn iter(&self) -> impl Iterator<Item = Result<&[u8], TaskError>> + '_ {
        self.entries.iter().map(|e| match e {
            Entry::Pending => Err(TaskError::Cancelled),
            Entry::Value { start, end } => Ok(&self.bytes[*start..*end]),
            Entry::Failed(e) => Err(e.clone()),
        })
    }

    /// The results as one owned value each (the broker's wire form).
    pub fn into_vecs(self) -> Vec<Result<Vec<u8>, TaskError>> {
        self.iter().map(|r| r.map(<[u8]>::to_vec)).collect()
    }
}

impl From<Vec<Result<Vec<u8>, TaskError>>> for Results {
    fn from(results: Vec<Result<Vec<u8>, TaskError>>) -> Results {
        let mut out = Results::pending(results.len());
        for (i, r) in results.into_iter().enumerate() {
            match r {
                Ok(v) => out.set_value(i, &v),
                Err(e) => out.set_failed(i, e),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_values_come_back_whole_and_serialize_as_vecs() {
        let values = vec![vec![1u8, 2], vec![], vec![3]];
        let p = Packed::from(values.clone());
        assert_eq!(p.iter().collect::<Vec<_>>(), [&[1u8, 2][..], &[], &[3]]);
        assert_eq!(p.span(1, 3), [3]);
        let wire = postcard::to_allocvec(&p.range(0, 3)).unwrap();
        assert_eq!(wire, postcard::to_allocvec(&values).unwrap());
    }

    #[test]
    fn results_filled_out_of_order_read_in_order() {
        let mut r = Results::pending(3);
        r.set_value(2, &[9]);
        r.set_failed(0, TaskError::Cancelled);
        assert_eq!(r.pending_indices(), [1]);
        r.set_value(1, &[7, 7]);
        let v = r.into_vecs();
        assert_eq!(v, [Err(TaskError::Cancelled), Ok(vec![7, 7]), Ok(vec![9])]);
    }
}
