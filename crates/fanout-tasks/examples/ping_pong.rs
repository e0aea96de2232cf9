//! Two workers printing ping and pong in turn: two child processes joined
//! by a [`fanout_tasks::Pipe`], each waiting for the other's message before
//! it prints.
//!
//!     cargo run --example ping_pong [ROUNDS]

use fanout_tasks::Pipe;
use std::io::Write;

fanout_tasks::task! {
    /// Prints "ping", then passes the turn and waits for it back.
    pub fn ping((end, rounds): (Pipe<u32>, u32)) -> u32 {
        for i in 0..rounds {
            say(&format!("ping {i}"));
            end.send(&i).unwrap();
            end.recv().unwrap();
        }
        rounds
    }
}

fanout_tasks::task! {
    /// Waits for the turn, prints "pong", passes it back.
    pub fn pong((end, rounds): (Pipe<u32>, u32)) -> u32 {
        for i in 0..rounds {
            end.recv().unwrap();
            say(&format!("pong {i}"));
            end.send(&i).unwrap();
        }
        rounds
    }
}

/// One line, out before the turn passes.
fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line} (pid {})", std::process::id());
    let _ = out.flush();
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    fanout_tasks::init();
    let rounds = std::env::args().nth(1).map_or(Ok(5), |s| s.parse())?;
    let (a, b) = Pipe::new()?;
    let pool = fanout_tasks::processes(2)?;
    let pinger = pool.submit(ping, (a, rounds));
    let ponger = pool.submit(pong, (b, rounds));
    assert_eq!((pinger.join()?, ponger.join()?), (rounds, rounds));
    Ok(())
}
