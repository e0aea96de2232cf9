//! `--pipepart`: cutting a seekable file into byte ranges of about
//! `--block` bytes that end on record boundaries. Only a little around
//! each nominal border is read to find the cut.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

use super::split::Splitter;

/// The size of the window read at a time when looking for a cut.
const PROBE: usize = 64 * 1024;

/// The ranges `(offset, len)` of `file` after `start` (the header's end):
/// each ends at the first record end at or after its nominal border, so
/// `size / block` rounded up is the most there can be, and together they
/// cover every byte once, in order.
pub fn part_ranges(
    file: &File,
    start: u64,
    block: u64,
    splitter: &Splitter,
) -> io::Result<Vec<(u64, u64)>> {
    let size = file_size(file)?;
    let block = block.max(1);
    let mut ranges = Vec::new();
    let mut pos = start;
    while pos < size {
        let border = pos.saturating_add(block);
        if border >= size {
            ranges.push((pos, size - pos));
            break;
        }
        let cut = find_cut(file, pos, border, size, splitter)?;
        if cut <= pos {
            // The file shrank under us: nothing more to cut.
            break;
        }
        ranges.push((pos, cut - pos));
        pos = cut;
    }
    Ok(ranges)
}

/// The size of a file, or of a block device (whose metadata says 0).
pub fn file_size(file: &File) -> io::Result<u64> {
    match file.metadata()?.len() {
        0 => io::Seek::seek(&mut &*file, io::SeekFrom::End(0)),
        n => Ok(n),
    }
}

/// The cut for a range starting at `pos` with nominal end `border`: the
/// first record end at or after `border` (as GNU parallel cuts), searched
/// in windows of `PROBE` bytes that overlap by `BACK`, so a separator
/// straddling a seam (or the border) is seen whole and memory stays small
/// however long the record; the end of the file if there is none.
fn find_cut(file: &File, pos: u64, border: u64, size: u64, splitter: &Splitter) -> io::Result<u64> {
    let mut from = border.saturating_sub(BACK).max(pos);
    loop {
        let skip = border.saturating_sub(from) as usize;
        let data = read_at(file, from, skip + PROBE)?;
        if let Some(cut) = splitter.first_cut_from(&data, skip) {
            return Ok(from + cut as u64);
        }
        let end = from + data.len() as u64;
        if data.len() < skip + PROBE || end >= size {
            // The end of the file (or a short read: it shrank).
            return Ok(end.min(size));
        }
        from = end - BACK;
    }
}

/// How far a window reaches back: a separator may start this far before
/// a border or a window's end.
const BACK: u64 = 4096;

fn read_at(file: &File, offset: u64, len: usize) -> io::Result<Vec<u8>> {
    let mut buf = vec![0; len];
    let mut got = 0;
    while got < len {
        match file.read_at(&mut buf[got..], offset + got as u64) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    buf.truncate(got);
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn ranges_of(content: &[u8], block: u64) -> Vec<Vec<u8>> {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(content).unwrap();
        let s = Splitter::new(b"\n", b"", false, None).unwrap();
        part_ranges(&f, 0, block, &s)
            .unwrap()
            .into_iter()
            .map(|(o, l)| read_at(&f, o, l as usize).unwrap())
            .collect()
    }

    #[test]
    fn ranges_end_on_record_ends_and_cover_the_file() {
        let content: Vec<u8> = (1..=1000)
            .flat_map(|i| format!("{i}\n").into_bytes())
            .collect();
        for block in [1, 7, 100, 1000, 5000] {
            let parts = ranges_of(&content, block);
            assert_eq!(parts.concat(), content, "block {block}");
            for p in &parts {
                assert!(p.ends_with(b"\n"), "block {block}");
            }
        }
        assert_eq!(
            ranges_of(b"no newline at all", 4),
            [b"no newline at all".to_vec()]
        );
        assert!(ranges_of(b"", 4).is_empty());
    }
}
