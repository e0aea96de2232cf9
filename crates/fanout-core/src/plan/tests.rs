//! Resume rules on real job log files, shuffle numbering, the sink order.

use std::io;
use std::sync::{Arc, Mutex};

use super::*;
use crate::Event;

const HEADER: &str = "Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand\n";

/// A job log with rows (seq, exit, command), then `tail` as is.
fn log(rows: &[(u64, i32, &str)], tail: &str) -> tempfile::NamedTempFile {
    let mut text = String::from(HEADER);
    for (seq, exit, cmd) in rows {
        text += &format!("{seq}\t:\t1700000000.000\t0.010\t0\t0\t{exit}\t0\t{cmd}\n");
    }
    text += tail;
    let f = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(f.path(), text).unwrap();
    f
}

fn jobs(n: u64) -> Jobs {
    Box::new((1..=n).map(|s| {
        Ok(JobArgs {
            seq: JobSeq(s),
            records: vec![vec![s.to_string().into_bytes()]].into(),
            stdin: None,
        })
    }))
}

fn seqs(jobs: Jobs) -> Vec<u64> {
    jobs.map(|j| j.unwrap().seq.0).collect()
}

#[test]
fn resume_skips_every_logged_job_and_resume_failed_only_the_succeeded_ones() {
    let f = log(&[(1, 0, "a"), (3, 1, "c")], "");
    let p = Prior::read(f.path(), Resume::Skip).unwrap();
    assert_eq!(seqs(p.skipping(jobs(4))), [2, 4]);
    let p = Prior::read(f.path(), Resume::SkipSucceeded).unwrap();
    assert_eq!(seqs(p.skipping(jobs(4))), [2, 3, 4]);
    assert!(p.logged.contains(JobSeq(3)));
}

#[test]
fn retry_failed_runs_the_failed_commands_under_their_numbers_unless_they_succeeded_later() {
    let f = log(
        &[
            (1, 2, "false a"),
            (2, 0, "b"),
            (3, 1, "false c"),
            (3, 0, "c"),
        ],
        "",
    );
    let mut p = Prior::read(f.path(), Resume::RetryFailed).unwrap();
    let again: Vec<(u64, Vec<u8>)> = p
        .retry_jobs()
        .unwrap()
        .map(|j| {
            let j = j.unwrap();
            let cmd = j.records.iter().next().unwrap().next().unwrap().to_vec();
            (j.seq.0, cmd)
        })
        .collect();
    assert_eq!(again, [(1, b"false a".to_vec())]);
    assert!(Prior::read(f.path(), Resume::Skip)
        .unwrap()
        .retry_jobs()
        .is_none());
}

#[test]
fn a_missing_log_means_nothing_ran_and_a_torn_last_row_is_reported_not_read() {
    let p = Prior::read(std::path::Path::new("/nonexistent/joblog"), Resume::Skip).unwrap();
    assert_eq!(seqs(p.skipping(jobs(2))), [1, 2]);
    let f = log(&[(1, 0, "a")], "2\t:\t1");
    let p = Prior::read(f.path(), Resume::Skip).unwrap();
    assert_eq!(p.torn.as_ref().map(|t| t.line), Some(3));
    assert_eq!(seqs(p.skipping(jobs(2))), [2]);
    let p = Prior::read(f.path(), Resume::No).unwrap();
    assert!(p.torn.is_none() && !p.logged.contains(JobSeq(1)));
}

#[test]
fn shuffled_jobs_are_numbered_in_their_new_order_and_counted() {
    let (streamed, total) = prepare(jobs(3), false, false);
    assert_eq!((seqs(streamed), total), (vec![1, 2, 3], None));
    let (shuffled, total) = prepare(jobs(50), true, false);
    let all: Vec<JobArgs> = shuffled.map(Result::unwrap).collect();
    assert_eq!(total, Some(50));
    let numbers: Vec<u64> = all.iter().map(|j| j.seq.0).collect();
    assert_eq!(numbers, (1..=50).collect::<Vec<_>>());
    let mut values: Vec<u64> = all
        .iter()
        .map(|j| {
            std::str::from_utf8(j.records.iter().next().unwrap().next().unwrap())
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    values.sort_unstable();
    assert_eq!(values, (1..=50).collect::<Vec<_>>());
}

/// Records which layer saw which event, in order.
struct Tap(&'static str, Arc<Mutex<Vec<String>>>);

impl Observer for Tap {
    fn observe(&mut self, event: &mut Event<'_>) -> io::Result<()> {
        if let Event::Finished(r) = event {
            self.1
                .lock()
                .unwrap()
                .push(format!("{} {}", self.0, r.seq.0));
        }
        Ok(())
    }
}

impl Sink for Tap {
    fn event(&mut self, mut event: Event<'_>) -> io::Result<()> {
        self.observe(&mut event)
    }
}

#[test]
fn under_keep_order_progress_sees_jobs_as_they_end_and_the_log_as_they_print() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let mut sink = SinkStack {
        printer: Box::new(Tap("print", seen.clone())),
        with_output: vec![Box::new(Tap("log", seen.clone()))],
        keep_order: true,
        live: vec![Box::new(Tap("progress", seen.clone()))],
    }
    .build();
    let records = crate::Records::new();
    for seq in [1, 2] {
        let (seq, slot) = (JobSeq(seq), crate::SlotId(1));
        let started = Event::Started {
            seq,
            slot,
            command: b"c",
            args: &records,
        };
        sink.event(started).unwrap();
    }
    for seq in [2, 1] {
        sink.event(Event::Finished(crate::test_support::result(seq, 0)))
            .unwrap();
    }
    sink.finish().unwrap();
    assert_eq!(
        *seen.lock().unwrap(),
        [
            "progress 2",
            "progress 1",
            "log 1",
            "print 1",
            "log 2",
            "print 2"
        ]
    );
}
