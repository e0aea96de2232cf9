//! Options from `$PARALLEL` and profile files, read before the command
//! line's own, as GNU parallel reads them.

mod common;
use common::fanout;

/// A fanout run whose home and configuration directories are `dir`'s.
fn isolated(dir: &std::path::Path, args: &[&str]) -> common::Fanout {
    fanout(args.to_vec())
        .env("HOME", dir.as_os_str())
        .env("XDG_CONFIG_HOME", dir.join("xdg").as_os_str())
        .env("XDG_CONFIG_DIRS", dir.join("xdg-dirs").as_os_str())
}

#[test]
fn parallel_env_options_come_before_the_command_lines_own() {
    let dir = tempfile::tempdir().unwrap();
    isolated(dir.path(), &["echo", ":::", "a b"])
        .env("PARALLEL", "-k --tagstring '<{}>'")
        .run()
        .stdout_is("<a b>\ta b\n");
    // The command line's own options come later, and win.
    isolated(dir.path(), &["-j2", "echo", "{%}", ":::", "x"])
        .env("PARALLEL", "-j1")
        .run()
        .stdout_is("1\n");
}

#[test]
fn the_config_profile_is_read_from_parallel_home_and_home() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    std::fs::create_dir_all(home.join(".parallel")).unwrap();
    std::fs::write(
        home.join(".parallel/config"),
        "# options for every run\n--tag\n",
    )
    .unwrap();
    isolated(&home, &["echo", ":::", "a"])
        .run()
        .stdout_is("a\ta\n");
    let ph = dir.path().join("ph");
    std::fs::create_dir_all(&ph).unwrap();
    std::fs::write(ph.join("config"), "--tagstring T\n").unwrap();
    isolated(&home, &["echo", ":::", "a"])
        .env("PARALLEL_HOME", ph.as_os_str())
        .run()
        .stdout_is("T\ta\n");
}

#[test]
fn a_named_profile_replaces_the_config_profile() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join(".parallel");
    std::fs::create_dir_all(&p).unwrap();
    std::fs::write(p.join("config"), "--tag\n").unwrap();
    std::fs::write(p.join("numbered"), "-k\n--tagstring '{#}:'\n").unwrap();
    isolated(dir.path(), &["-J", "numbered", "echo", ":::", "a", "b"])
        .run()
        .stdout_is("1:\ta\n2:\tb\n");
    isolated(dir.path(), &["--profile=numbered", "echo", ":::", "a"])
        .run()
        .stdout_is("1:\ta\n");
}

#[test]
fn plain_ignores_profiles_and_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join(".parallel");
    std::fs::create_dir_all(&p).unwrap();
    std::fs::write(p.join("config"), "--tag\n").unwrap();
    isolated(dir.path(), &["--plain", "echo", ":::", "a"])
        .env("PARALLEL", "--tagstring X")
        .run()
        .stdout_is("a\n");
}

#[test]
fn a_missing_profile_is_one_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    isolated(dir.path(), &["-J", "nosuch", "echo", ":::", "a"])
        .run()
        .fanout_error("profile `nosuch` not found");
}

#[test]
fn citation_options_are_accepted_silently() {
    let dir = tempfile::tempdir().unwrap();
    for opt in ["--will-cite", "--bibtex", "--citation"] {
        isolated(dir.path(), &[opt, "echo", ":::", "a"])
            .run()
            .stdout_is("a\n")
            .stderr_is("");
    }
}
