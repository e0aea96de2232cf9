//! [`Outcomes`]: a batch's results as the values that came back plus the
//! few errors by index, so an all-good batch of tiny tasks is a plain
//! `Vec<R>` (as rayon's `collect` makes) instead of one `Result` of the
//! error's size per task.

use crate::TaskError;

/// The results of one batch, in order.
#[derive(Debug)]
pub(crate) struct Outcomes<R> {
    values: Vec<R>,
    /// (index in the batch, error), in increasing index.
    errors: Vec<(u32, TaskError)>,
}

impl<R> Outcomes<R> {
    /// Room for `n` results.
    pub fn with_capacity(n: usize) -> Outcomes<R> {
        Outcomes {
            values: Vec::with_capacity(n),
            errors: Vec::new(),
        }
    }

    /// `n` copies of one error.
    pub fn all_failed(n: usize, e: &TaskError) -> Outcomes<R> {
        Outcomes {
            values: Vec::new(),
            errors: (0..n as u32).map(|i| (i, e.clone())).collect(),
        }
    }

    /// How many results.
    pub fn len(&self) -> usize {
        self.values.len() + self.errors.len()
    }

    /// The failed tasks: (index, error), in order.
    pub fn errors(&self) -> impl Iterator<Item = (u32, &TaskError)> {
        self.errors.iter().map(|(i, e)| (*i, e))
    }

    /// Adds the next task's value.
    pub fn push_value(&mut self, v: R) {
        self.values.push(v);
    }

    /// Adds the next task's error.
    pub fn push_error(&mut self, e: TaskError) {
        let i = self.len() as u32;
        self.errors.push((i, e));
    }

    /// Adds the next task's result.
    pub fn push(&mut self, r: Result<R, TaskError>) {
        match r {
            Ok(v) => self.push_value(v),
            Err(e) => self.push_error(e),
        }
    }
}

impl<R> FromIterator<Result<R, TaskError>> for Outcomes<R> {
    fn from_iter<I: IntoIterator<Item = Result<R, TaskError>>>(iter: I) -> Self {
        let iter = iter.into_iter();
        let mut o = Outcomes::with_capacity(iter.size_hint().0);
        for r in iter {
            o.push(r);
        }
        o
    }
}

impl<R> IntoIterator for Outcomes<R> {
    type Item = Result<R, TaskError>;
    type IntoIter = Iter<R>;
    fn into_iter(self) -> Iter<R> {
        Iter {
            values: self.values.into_iter(),
            errors: self.errors.into_iter().peekable(),
            next: 0,
        }
    }
}

/// The results of a batch, one by one.
pub(crate) struct Iter<R> {
    values: std::vec::IntoIter<R>,
    errors: std::iter::Peekable<std::vec::IntoIter<(u32, TaskError)>>,
    next: u32,
}

impl<R> Default for Iter<R> {
    fn default() -> Self {
        Outcomes::with_capacity(0).into_iter()
    }
}

impl<R> Iterator for Iter<R> {
    type Item = Result<R, TaskError>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        let i = self.next;
        self.next += 1;
        if self.errors.peek().is_some_and(|(at, _)| *at == i) {
            return self.errors.next().map(|(_, e)| Err(e));
        }
        self.values.next().map(Ok)
    }

    /// All-good batches (the usual case) fold their values in one loop.
    fn fold<B, F>(mut self, init: B, mut f: F) -> B
    where
        F: FnMut(B, Self::Item) -> B,
    {
        if self.errors.peek().is_none() {
            return self.values.map(Ok).fold(init, f);
        }
        let mut acc = init;
        for r in self {
            acc = f(acc, r);
        }
        acc
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_come_back_in_their_places() {
        let input = vec![
            Ok(1),
            Err(TaskError::Cancelled),
            Ok(3),
            Err(TaskError::Cancelled),
        ];
        let o: Outcomes<u32> = input.clone().into_iter().collect();
        assert_eq!(o.len(), 4);
        assert_eq!(o.into_iter().collect::<Vec<_>>(), input);
    }
}
