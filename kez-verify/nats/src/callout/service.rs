//! The auth callout service on async-nats (feature `callout`): subscribes to
//! [`AUTH_CALLOUT_SUBJECT`] in the queue group [`QUEUE_GROUP`], answers each request with
//! [`Authorizer::respond_with`], and stops on ctrl-c or SIGTERM ([`run`]), on a
//! shutdown future ([`serve`]), after a number of requests, or when the subscription
//! ends (the client was closed).
//!
//! The service's own connection must be one of the callout's `auth_users` (config mode)
//! or of the account's `authorization.auth_users` (operator mode), or nats-server sends
//! its own authentication to the callout too.

use std::future::Future;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use futures_util::StreamExt as _;
use zeroize::Zeroizing;

use super::chains::{ChainSource, ChainSourceError};
use super::{Authorizer, Decision, AUTH_CALLOUT_SUBJECT, QUEUE_GROUP, XKEY_HEADER};

/// How the service runs.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ServeOptions {
    /// Stop after answering this many requests (answered or dropped).
    pub max_requests: Option<u64>,
    /// The queue group ([`QUEUE_GROUP`] by default).
    pub queue_group: String,
}

impl Default for ServeOptions {
    fn default() -> Self {
        Self {
            max_requests: None,
            queue_group: QUEUE_GROUP.to_string(),
        }
    }
}

/// What the service did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Requests received.
    pub requests: u64,
    /// Clients admitted.
    pub admitted: u64,
    /// Clients refused (a response with `nats.error` was sent).
    pub refused: u64,
    /// Messages not answered.
    pub dropped: u64,
    /// Requests the server sealed with an xkey (answered with sealed responses).
    pub sealed: u64,
}

/// Why the service stopped with an error. Never carries secret material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServiceError {
    /// The connection to nats-server failed.
    #[error("cannot connect to {url}: {error}")]
    Connect {
        /// The server URL.
        url: String,
        /// The client's error.
        error: String,
    },
    /// Subscribing or publishing failed.
    #[error("nats: {0}")]
    Nats(String),
    /// The sigchains cannot be read at start-up.
    #[error(transparent)]
    Chains(#[from] ChainSourceError),
    /// The credentials for the service's own connection cannot be used.
    #[error("{0}")]
    Credentials(String),
    /// The runtime could not start.
    #[error("cannot start the runtime: {0}")]
    Runtime(String),
}

/// Serves requests on `client` until `shutdown` completes, `options.max_requests` are
/// answered, or the subscription ends. Each [`Decision`] is passed to `on_decision`
/// (for logging). The chains are read from `chains` for each request whose proof
/// checks out; a file is verified again only when it changed.
pub async fn serve<S, L>(
    client: &async_nats::Client,
    authorizer: &Authorizer,
    chains: &ChainSource,
    options: &ServeOptions,
    mut on_decision: L,
    shutdown: S,
) -> Result<Stats, ServiceError>
where
    S: Future<Output = ()>,
    L: FnMut(&Decision),
{
    let mut subscription = client
        .queue_subscribe(AUTH_CALLOUT_SUBJECT, options.queue_group.clone())
        .await
        .map_err(|e| ServiceError::Nats(e.to_string()))?;
    // The subscription is registered with the server once this round trip completes.
    client
        .flush()
        .await
        .map_err(|e| ServiceError::Nats(e.to_string()))?;
    let mut stats = Stats::default();
    tokio::pin!(shutdown);
    loop {
        if options
            .max_requests
            .is_some_and(|max| stats.requests >= max)
        {
            break;
        }
        let message = tokio::select! {
            () = &mut shutdown => break,
            message = subscription.next() => match message {
                Some(message) => message,
                None => break,
            },
        };
        stats.requests += 1;
        let header = message
            .headers
            .as_ref()
            .and_then(|h| h.get(XKEY_HEADER))
            .map(|v| v.as_str().to_string());
        let reply =
            authorizer.respond_with(&message.payload, header.as_deref(), unix_now(), |_| {
                chains.load().map_err(|e| e.to_string())
            });
        if reply.sealed {
            stats.sealed += 1;
        }
        let decision = match (&message.reply, reply.payload) {
            (Some(subject), Some(payload)) => {
                match client.publish(subject.clone(), payload.into()).await {
                    Ok(()) => reply.decision,
                    Err(e) => Decision::Dropped(format!("cannot publish the response: {e}")),
                }
            }
            (None, Some(_)) => Decision::Dropped("the request has no reply subject".into()),
            (_, None) => reply.decision,
        };
        match &decision {
            Decision::Admitted { .. } => stats.admitted += 1,
            Decision::Refused { .. } => stats.refused += 1,
            Decision::Dropped(_) => stats.dropped += 1,
        }
        on_decision(&decision);
    }
    let _ = subscription.unsubscribe().await;
    let _ = client.flush().await;
    Ok(stats)
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// How the service itself connects to nats-server.
#[non_exhaustive]
pub enum ClientAuth {
    /// No credentials.
    None,
    /// A `.creds` file (operator mode: a user of the callout account listed in its
    /// `authorization.auth_users`).
    Creds(PathBuf),
    /// A user nkey seed (config mode: an nkey user listed in `auth_users`).
    NkeySeed(Zeroizing<String>),
    /// A user name and password.
    UserPassword {
        /// The user.
        user: String,
        /// The password.
        password: Zeroizing<String>,
    },
}

impl std::fmt::Debug for ClientAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientAuth::None => f.write_str("None"),
            ClientAuth::Creds(path) => write!(f, "Creds({})", path.display()),
            ClientAuth::NkeySeed(_) => f.write_str("NkeySeed(<redacted>)"),
            ClientAuth::UserPassword { user, .. } => write!(f, "UserPassword({user}, <redacted>)"),
        }
    }
}

/// Connects to `url` with `auth`.
pub async fn connect(url: &str, auth: &ClientAuth) -> Result<async_nats::Client, ServiceError> {
    let options = match auth {
        ClientAuth::None => async_nats::ConnectOptions::new(),
        ClientAuth::Creds(path) => async_nats::ConnectOptions::with_credentials_file(path)
            .await
            .map_err(|e| {
                ServiceError::Credentials(format!(
                    "cannot use the credentials file {}: {e}",
                    path.display()
                ))
            })?,
        ClientAuth::NkeySeed(seed) => async_nats::ConnectOptions::with_nkey(seed.to_string()),
        ClientAuth::UserPassword { user, password } => {
            async_nats::ConnectOptions::with_user_and_password(user.clone(), password.to_string())
        }
    };
    options
        .name("kez-auth-callout")
        .connect(url)
        .await
        .map_err(|e| ServiceError::Connect {
            url: url.to_string(),
            error: e.to_string(),
        })
}

/// Runs the service until ctrl-c (or SIGTERM), `options.max_requests`, or the end of
/// the subscription: builds a runtime, connects, checks that the chains can be read,
/// and serves.
pub fn run<L: FnMut(&Decision)>(
    url: &str,
    auth: &ClientAuth,
    authorizer: &Authorizer,
    chains: &ChainSource,
    options: &ServeOptions,
    on_decision: L,
) -> Result<Stats, ServiceError> {
    chains.load()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| ServiceError::Runtime(e.to_string()))?;
    runtime.block_on(async {
        let client = connect(url, auth).await?;
        let stats = serve(
            &client,
            authorizer,
            chains,
            options,
            on_decision,
            stop_signal(),
        )
        .await;
        let _ = client.drain().await;
        stats
    })
}

/// Completes on ctrl-c, or SIGTERM on Unix.
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
