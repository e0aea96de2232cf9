//! Connecting to the broker: credentials and TLS passed through to the
//! NATS client, and a check that the server can do what fanout needs.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream;

use crate::{Error, Result};

/// The oldest server fanout supports: Debian's nats-server 2.9.10 works;
/// nothing 2.10 added is relied on.
const MIN_SERVER: (i64, i64, i64) = (2, 9, 0);

/// Where the broker is and how to authenticate to it.
#[derive(Debug, Clone, Default)]
pub struct BrokerOptions {
    /// `nats://HOST:PORT` or `tls://HOST:PORT` (a comma-separated list is
    /// accepted; `user:pass@` in the URL works too).
    pub url: String,
    /// User name, with [`BrokerOptions::password`].
    pub user: Option<String>,
    /// Password.
    pub password: Option<String>,
    /// Token authentication.
    pub token: Option<String>,
    /// A `.creds` file (JWT and nkey seed).
    pub creds: Option<PathBuf>,
    /// CA certificate(s) to trust, PEM.
    pub tls_ca: Option<PathBuf>,
    /// Client certificate and key, PEM.
    pub tls_cert: Option<(PathBuf, PathBuf)>,
    /// Refuse to talk without TLS.
    pub require_tls: bool,
}

/// A connection with its JetStream context.
pub(crate) struct Conn {
    pub client: async_nats::Client,
    pub js: jetstream::Context,
    /// The largest message the server accepts.
    pub max_payload: usize,
    /// How often the connection was lost so far (see
    /// [`Conn::disconnects`]).
    disconnects: Arc<AtomicU64>,
}

impl Conn {
    /// How often the connection to the broker was lost since connecting.
    /// A broker killed and restarted can bring back job messages that
    /// were acked before (nats-server 2.9 does not persist every removal
    /// from a work-queue stream), so a worker that has seen one asks the
    /// coordinator before running what it pulls.
    pub fn disconnects(&self) -> u64 {
        self.disconnects.load(Ordering::Relaxed)
    }
}

/// Connects and checks the server: version and JetStream.
pub(crate) async fn connect(opts: &BrokerOptions, role: &str) -> Result<Conn> {
    let shown = redact(&opts.url);
    let fail = |reason: String| Error::Connect {
        url: shown.clone(),
        reason,
    };
    let disconnects = Arc::new(AtomicU64::new(0));
    let counter = disconnects.clone();
    let mut o = async_nats::ConnectOptions::new()
        .name(format!("fanout-{role}-{}", std::process::id()))
        .event_callback(move |event| {
            if matches!(event, async_nats::Event::Disconnected) {
                counter.fetch_add(1, Ordering::Relaxed);
            }
            std::future::ready(())
        })
        .connection_timeout(Duration::from_secs(5))
        // After the first connect, reconnect for as long as it takes: a
        // broker restart must not end a run.
        .max_reconnects(None)
        .client_capacity(65_536)
        .subscription_capacity(65_536);
    // The client does not use credentials written in the URL itself.
    if let Some((user, pass)) = url_credentials(&opts.url) {
        o = match pass {
            Some(p) => o.user_and_password(user, p),
            None => o.token(user),
        };
    }
    if let (Some(u), Some(p)) = (&opts.user, &opts.password) {
        o = o.user_and_password(u.clone(), p.clone());
    } else if let Some(u) = &opts.user {
        o = o.user_and_password(u.clone(), String::new());
    }
    if let Some(t) = &opts.token {
        o = o.token(t.clone());
    }
    if let Some(c) = &opts.creds {
        o = o
            .credentials_file(c)
            .await
            .map_err(|e| fail(format!("cannot read credentials `{}`: {e}", c.display())))?;
    }
    if let Some(ca) = &opts.tls_ca {
        o = o.add_root_certificates(ca.clone()).require_tls(true);
    }
    if let Some((cert, key)) = &opts.tls_cert {
        o = o.add_client_certificate(cert.clone(), key.clone());
    }
    if opts.require_tls {
        o = o.require_tls(true);
    }
    // Several URLs, comma-separated (nodes of a cluster): the client
    // connects to one and moves to another when that one is lost.
    let servers = opts
        .url
        .split(',')
        .map(|u| u.trim().parse::<async_nats::ServerAddr>())
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| fail(e.to_string()))?;
    let client = o.connect(servers).await.map_err(|e| match e.kind() {
        async_nats::ConnectErrorKind::Io | async_nats::ConnectErrorKind::Tls => fail(e.to_string()),
        kind => fail(kind.to_string()),
    })?;
    let info = client.server_info();
    let (a, b, c) = MIN_SERVER;
    if !client.is_server_compatible(a, b, c) {
        return Err(Error::Server {
            url: redact(&opts.url),
            reason: format!(
                "nats-server {} is too old: {a}.{b}.{c} or newer is needed",
                info.version
            ),
        });
    }
    if !info.jetstream {
        return Err(Error::Server {
            url: redact(&opts.url),
            reason: "JetStream is not enabled (start nats-server with -js)".into(),
        });
    }
    let js = jetstream::ContextBuilder::new()
        .timeout(Duration::from_secs(10))
        .max_ack_inflight(8192)
        .build(client.clone());
    Ok(Conn {
        client,
        js,
        max_payload: info.max_payload,
        disconnects,
    })
}

/// `user:pass@` (or `token@`) from a `nats://` URL.
fn url_credentials(url: &str) -> Option<(String, Option<String>)> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let (info, _) = rest.split('/').next()?.rsplit_once('@')?;
    Some(match info.split_once(':') {
        Some((u, p)) => (u.to_owned(), Some(p.to_owned())),
        None => (info.to_owned(), None),
    })
}

/// The URL (or comma-separated URLs) without credentials, for messages.
pub(crate) fn redact(url: &str) -> String {
    let one = |u: &str| {
        let (scheme, rest) = u.split_once("://").map_or(("", u), |(s, r)| (s, r));
        let sep = if scheme.is_empty() { "" } else { "://" };
        let host_end = rest.find('/').unwrap_or(rest.len());
        match rest[..host_end].rfind('@') {
            Some(at) => format!("{scheme}{sep}***@{}", &rest[at + 1..]),
            None => u.to_owned(),
        }
    };
    url.split(',').map(one).collect::<Vec<_>>().join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_in_the_url_are_used_and_never_shown() {
        assert_eq!(
            url_credentials("nats://u:p@h:1"),
            Some(("u".into(), Some("p".into())))
        );
        assert_eq!(
            url_credentials("nats://tok@h:1"),
            Some(("tok".into(), None))
        );
        assert_eq!(url_credentials("nats://h:1"), None);
        assert_eq!(redact("nats://u:p@h:1"), "nats://***@h:1");
        assert_eq!(redact("nats://h:1"), "nats://h:1");
        assert_eq!(redact("nats://u:p@ss@h:1"), "nats://***@h:1");
        assert_eq!(
            redact("nats://h:1,nats://v:q@g:2"),
            "nats://h:1,nats://***@g:2"
        );
        assert_eq!(redact("u:p@h:1"), "***@h:1");
    }
}
