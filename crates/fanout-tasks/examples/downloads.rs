//! Sequential vs concurrent downloads: fetches 20 pages from a local HTTP
//! server (started here; each answer takes 100 ms, as a slow site would)
//! one after another, then on a pool of 10 threads.
//!
//!     cargo run --example downloads

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

fanout_tasks::task! {
    /// Downloads `url` (plain `http://host:port/path`); its body's length.
    pub fn fetch(url: String) -> Result<usize, String> {
        // A busy machine may reset a connection now and then: try again, as
        // any downloader does.
        let mut last = String::new();
        for _ in 0..3 {
            match get(&url) {
                Ok(n) => return Ok(n),
                Err(e) => last = e.to_string(),
            }
        }
        Err(last)
    }
}

fn get(url: &str) -> std::io::Result<usize> {
    let rest = url.strip_prefix("http://").unwrap_or(url);
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let mut s = TcpStream::connect(host)?;
    write!(s, "GET /{path} HTTP/1.0\r\nHost: {host}\r\n\r\n")?;
    let mut body = Vec::new();
    s.read_to_end(&mut body)?;
    let start = body
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(0, |p| p + 4);
    Ok(body.len() - start)
}

/// A server answering every GET after 100 ms with a page of 10,000 bytes
/// plus its path's length.
fn serve() -> std::io::Result<String> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            std::thread::spawn(move || {
                // The whole request, headers too: closing a socket with
                // unread bytes would reset the connection under the reply.
                let mut reader = BufReader::new(&conn);
                let mut line = String::new();
                let _ = reader.read_line(&mut line);
                let path = line.split(' ').nth(1).unwrap_or("/").to_owned();
                let mut header = String::new();
                while reader.read_line(&mut header).is_ok_and(|n| n > 2) {
                    header.clear();
                }
                std::thread::sleep(Duration::from_millis(100));
                let body = "x".repeat(10_000 + path.len());
                let mut conn = conn;
                let _ = write!(
                    conn,
                    "HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                );
            });
        }
    });
    Ok(format!("http://{addr}"))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    fanout_tasks::init();
    let base = serve()?;
    let urls: Vec<String> = (0..20).map(|i| format!("{base}/page/{i}")).collect();

    let t = Instant::now();
    let sequential: usize = urls.iter().map(|u| fetch.call(u.clone()).unwrap()).sum();
    let seq_time = t.elapsed();
    println!(
        "sequential: {} pages, {sequential} bytes in {:.2} s",
        urls.len(),
        seq_time.as_secs_f64()
    );

    let pool = fanout_tasks::threads(10)?;
    let t = Instant::now();
    let concurrent: usize = pool
        .map(fetch, urls.clone())
        .map(|r| r.unwrap().unwrap())
        .sum();
    let con_time = t.elapsed();
    println!(
        "concurrent: {} pages, {concurrent} bytes in {:.2} s ({:.1}x faster)",
        urls.len(),
        con_time.as_secs_f64(),
        seq_time.as_secs_f64() / con_time.as_secs_f64()
    );
    assert_eq!(sequential, concurrent);
    Ok(())
}
