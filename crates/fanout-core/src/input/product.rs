//! Combining sources: linked groups are zipped, groups are multiplied.

use super::Items;
use crate::job::Record;
use crate::Result;

/// The stream of input records, in GNU parallel's order: the first group
/// varies slowest. Only the first group is streamed; the others are read
/// into memory because every one of their records is used repeatedly.
pub struct RecordStream {
    first: Group,
    rest: Vec<Vec<Record>>,
    current: Option<Record>,
    odometer: Vec<usize>,
    /// Some group after the first has a value of its own (not padding).
    rest_has_values: bool,
}

impl std::fmt::Debug for RecordStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordStream")
            .field("groups", &(self.rest.len() + 1))
            .finish_non_exhaustive()
    }
}

/// One group of linked sources.
enum Group {
    /// A single source, streamed.
    One(Items),
    /// `:::+`: zipped; ends with the shortest source.
    Zip(Vec<Items>),
    /// `--link`: read whole, shorter sources wrap around.
    Wrap(std::vec::IntoIter<Record>),
}

impl Group {
    fn next(&mut self) -> Option<Result<Record>> {
        match self {
            Group::One(items) => items.next(),
            Group::Zip(all) => {
                let mut rec = Vec::new();
                for items in all {
                    match items.next()? {
                        Ok(cols) => rec.extend(cols),
                        Err(e) => return Some(Err(e)),
                    }
                }
                Some(Ok(rec))
            }
            Group::Wrap(it) => it.next().map(Ok),
        }
    }

    fn collect(mut self) -> Result<Vec<Record>> {
        std::iter::from_fn(|| self.next()).collect()
    }
}

impl RecordStream {
    pub(super) fn new(sources: Vec<(Items, bool)>, link_all: bool) -> Result<Self> {
        let mut groups: Vec<Vec<Items>> = Vec::new();
        for (items, linked) in sources {
            match groups.last_mut() {
                Some(g) if linked || link_all => g.push(items),
                _ => groups.push(vec![items]),
            }
        }
        let mut groups = groups.into_iter().map(|g| make_group(g, link_all));
        let first = groups.next().expect("at least one source")?;
        let mut rest = groups.map(|g| g?.collect()).collect::<Result<Vec<_>>>()?;
        let rest_has_values = rest.iter().any(|g| !g.is_empty());
        // As GNU parallel: beside other sources, an empty one gives one
        // empty value (`::: a b :::: /dev/null` runs `echo a` and `echo b`).
        for g in rest.iter_mut().filter(|g| g.is_empty()) {
            g.push(vec![Vec::new()]);
        }
        let odometer = vec![0; rest.len()];
        Ok(RecordStream {
            first,
            rest,
            current: None,
            odometer,
            rest_has_values,
        })
    }

    /// Advances the odometer over the in-memory groups; false when it wraps.
    fn step(&mut self) -> bool {
        for i in (0..self.rest.len()).rev() {
            self.odometer[i] += 1;
            if self.odometer[i] < self.rest[i].len() {
                return true;
            }
            self.odometer[i] = 0;
        }
        false
    }
}

fn make_group(mut members: Vec<Items>, link_all: bool) -> Result<Group> {
    if members.len() == 1 {
        return Ok(Group::One(members.pop().expect("one member")));
    }
    if !link_all {
        return Ok(Group::Zip(members));
    }
    let cols: Vec<Vec<Record>> = members
        .into_iter()
        .map(|m| m.collect::<Result<Vec<_>>>())
        .collect::<Result<_>>()?;
    let longest = cols.iter().map(Vec::len).max().unwrap_or(0);
    let any_empty = cols.iter().any(Vec::is_empty);
    let rows = if any_empty { 0 } else { longest };
    let records = (0..rows)
        .map(|i| {
            cols.iter()
                .flat_map(|c| c[i % c.len()].iter().cloned())
                .collect()
        })
        .collect::<Vec<Record>>();
    Ok(Group::Wrap(records.into_iter()))
}

impl Iterator for RecordStream {
    type Item = Result<Record>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return self.first.next();
        }
        if self.current.is_none() || !self.step() {
            match self.first.next() {
                Some(Ok(r)) => self.current = Some(r),
                Some(Err(e)) => return Some(Err(e)),
                // An empty first source beside others: one empty value.
                None if self.current.is_none() && self.rest_has_values => {
                    self.current = Some(vec![Vec::new()]);
                }
                None => return None,
            }
        }
        let mut rec = self.current.clone().expect("set above");
        for (group, &i) in self.rest.iter().zip(&self.odometer) {
            rec.extend(group[i].iter().cloned());
        }
        Some(Ok(rec))
    }
}
