//! The engine used as a library, without the CLI.

use std::sync::Arc;

use fanout_core::{
    BatchOptions, Batcher, Collect, Commands, Engine, Event, ExitKind, Inputs, JobArgs, JobSeq,
    RunConfig, Sink, Template, TemplateOptions,
};

fn config(jobs: usize) -> RunConfig {
    let mut config = RunConfig::default();
    config.jobs = jobs;
    config
}

#[test]
fn explicit_argv_jobs_run_without_a_shell() {
    let jobs = vec![
        Ok(JobArgs {
            seq: JobSeq(1),
            records: vec![vec![
                b"printf".to_vec(),
                b"%s|".to_vec(),
                b"a b; $x".to_vec(),
            ]]
            .into(),
            stdin: None,
        }),
        Ok(JobArgs {
            seq: JobSeq(2),
            records: vec![vec![b"false".to_vec()]].into(),
            stdin: None,
        }),
    ];
    let mut sink = Collect::default();
    let summary = Engine::new(config(2))
        .run(jobs.into_iter(), &Commands::Argv, &mut sink)
        .unwrap();
    assert_eq!(summary.started, 2);
    assert_eq!(summary.failed, 1);
    let results = sink.into_sorted();
    assert_eq!(results[0].stdout.to_vec().unwrap(), b"a b; $x|");
    assert_eq!(results[1].exit, ExitKind::Code(1));
}

/// Records the order of events, as a progress display would see them.
#[derive(Default)]
struct Trace(Vec<String>);

impl Sink for Trace {
    fn event(&mut self, event: Event<'_>) -> std::io::Result<()> {
        match event {
            Event::Queued { seq } => self.0.push(format!("queue {seq}")),
            Event::Started { seq, slot, .. } => self.0.push(format!("start {seq} in {slot}")),
            Event::Finished(r) => self.0.push(format!("end {} {:?}", r.seq, r.exit)),
            _ => {}
        }
        Ok(())
    }
}

#[test]
fn every_job_starts_before_it_ends_and_slots_are_bounded() {
    let opts = TemplateOptions::default();
    let template = Arc::new(Template::from_command(&["exit"], &opts).unwrap());
    let (_, records) = Inputs::from_values(["0", "3", "0", "0"]).open().unwrap();
    let jobs = Batcher::new(records, template.clone(), BatchOptions::default());
    let mut trace = Trace::default();
    let summary = Engine::new(config(1))
        .run(
            jobs,
            &Commands::Template {
                template,
                context: false,
            },
            &mut trace,
        )
        .unwrap();
    assert_eq!(summary.failed, 1);
    // One slot: strictly queue, start, end, queue, start, end...
    let expected: Vec<String> = [("1", "0"), ("2", "3"), ("3", "0"), ("4", "0")]
        .iter()
        .flat_map(|(s, c)| {
            [
                format!("queue {s}"),
                format!("start {s} in 1"),
                format!("end {s} Code({c})"),
            ]
        })
        .collect();
    assert_eq!(trace.0, expected);
}

#[test]
fn results_carry_resource_use() {
    let template = Arc::new(
        Template::from_command(
            &[
                "sh",
                "-c",
                "'i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done'",
            ],
            &TemplateOptions {
                append_missing: false,
                ..Default::default()
            },
        )
        .unwrap(),
    );
    let (_, records) = Inputs::from_values(["x"]).open().unwrap();
    let jobs = Batcher::new(records, template.clone(), BatchOptions::default());
    let mut sink = Collect::default();
    Engine::new(config(1))
        .run(
            jobs,
            &Commands::Template {
                template,
                context: false,
            },
            &mut sink,
        )
        .unwrap();
    let r = &sink.results[0];
    assert!(r.exit.success());
    assert!(r.max_rss_kib > 0, "peak RSS reported");
    assert!(r.runtime >= r.cpu_time / 2, "{r:?}");
}
