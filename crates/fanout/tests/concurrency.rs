//! -j forms, job slots and the environment jobs see.

mod common;
use common::fanout;

#[test]
fn jobs_see_their_sequence_number_and_slot() {
    fanout([
        "-k",
        "-j1",
        "echo",
        "$PARALLEL_SEQ-$PARALLEL_JOBSLOT-{}",
        ":::",
        "a",
        "b",
    ])
    .run()
    .stdout_is("1-1-a\n2-1-b\n");
    fanout([
        "-k",
        "-j3",
        "sleep 0.3; echo $PARALLEL_JOBSLOT {%}",
        ":::",
        "a",
        "b",
        "c",
    ])
    .run()
    .stdout_is("1 1\n2 2\n3 3\n");
}

#[test]
fn jobs_run_in_parallel_up_to_the_limit() {
    // Each job records how many jobs are running when it starts.
    let dir = tempfile::tempdir().unwrap();
    let script = "mkdir -p run; touch run/{}; ls run | wc -l >> counts; sleep 0.4; rm run/{}";
    fanout(["-j3", script, ":::", "1", "2", "3", "4", "5", "6"])
        .dir(dir.path())
        .run()
        .code(0);
    let counts = std::fs::read_to_string(dir.path().join("counts")).unwrap();
    let max: u32 = counts
        .lines()
        .map(|l| l.trim().parse::<u32>().unwrap())
        .max()
        .unwrap();
    assert!(max >= 2, "jobs did not overlap: {counts}");
    assert!(max <= 3, "more than -j3 jobs at once: {counts}");
}

#[test]
fn percent_plus_minus_and_zero_forms_are_accepted() {
    for j in ["50%", "+1", "-1", "0", "2"] {
        fanout(["-k", "-j", j, "echo", ":::", "a", "b"])
            .run()
            .code(0)
            .stdout_is("a\nb\n");
    }
}

#[test]
fn one_slot_runs_jobs_one_after_another() {
    fanout(["-j1", "echo", ":::", "a", "b", "c"])
        .run()
        .stdout_is("a\nb\nc\n");
}

#[test]
fn absurd_job_count_regression_j_1e99_accepted() {
    for j in ["1e99", "2.5", "1e3", "+1.5"] {
        fanout(["-j", j, "echo", ":::", "a"])
            .run()
            .fanout_error("-j");
    }
    // Percentages may be fractional, as in GNU parallel.
    fanout(["-j", "2.5%", "echo", ":::", "a"])
        .run()
        .stdout_is("a\n");
}
