//! Latency on loopback: proxies that delay every answer of a peer (issue 3 §6, the graph
//! benchmark of `kez-id`).
//!
//! - [`LatencyProxy`] is a TCP proxy: each connection accepted on its loopback address is
//!   joined to the upstream peer; bytes from the client go through at once, bytes from the
//!   server are held for the configured delay from the moment they arrive (a delay line, so a
//!   response that arrives in several reads is delayed once, not once per read). HTTP,
//!   websockets (nostr relays) and DNS over TCP all pass through unchanged.
//! - [`DnsLatencyProxy`] forwards DNS over UDP, delaying each reply, and proxies DNS over TCP
//!   on the same port number (resolvers retry truncated answers over TCP on the same address).
//!
//! Both count the *bursts* they delayed: runs of server bytes that arrived while nothing was
//! waiting in the delay line, which is the number of round trips the peer answered. Both
//! listen and connect on loopback addresses only, and stop, bounded, on
//! [`shutdown`](LatencyProxy::shutdown) or when dropped (every task is aborted).
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use std::time::Duration;
//! use kez_peers::latency::LatencyProxy;
//! let upstream: std::net::SocketAddr = "127.0.0.1:8080".parse().unwrap();
//! let proxy = LatencyProxy::start(upstream, Duration::from_millis(100)).await?;
//! println!("slow peer at {}", proxy.url("http"));
//! proxy.shutdown().await;
//! # Ok(())
//! # }
//! ```

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::mpsc;
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;

/// How long [`LatencyProxy::shutdown`] waits for its tasks to end after aborting them.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(2);
/// How long the UDP forwarder waits for the upstream's reply to one query.
const UDP_REPLY_TIMEOUT: Duration = Duration::from_secs(5);
/// Chunks of server bytes that may wait in one connection's delay line (each at most
/// [`CHUNK`] bytes); a full line stops reading from the server until it drains.
const LINE_CHUNKS: usize = 256;
/// The largest read from the server.
const CHUNK: usize = 16 * 1024;
/// How many port numbers [`DnsLatencyProxy::start`] tries before giving up.
const PORT_ATTEMPTS: usize = 20;

fn loopback_only(addr: SocketAddr, what: &str) -> io::Result<()> {
    if addr.ip().is_loopback() {
        Ok(())
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{what} {addr} is not a loopback address"),
        ))
    }
}

/// A TCP proxy on loopback that delays everything the upstream peer sends.
#[derive(Debug)]
pub struct LatencyProxy {
    addr: SocketAddr,
    upstream: SocketAddr,
    bursts: Arc<AtomicUsize>,
    task: Option<JoinHandle<()>>,
}

impl LatencyProxy {
    /// A proxy on a free port of 127.0.0.1 in front of `upstream`, delaying its answers by
    /// `delay`.
    pub async fn start(upstream: SocketAddr, delay: Duration) -> io::Result<Self> {
        Self::start_on(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), upstream, delay).await
    }

    /// A proxy listening on `listen` (a loopback address; port 0 picks a free one). Binding
    /// another loopback address with the upstream's port number (`127.0.0.2:PORT` in front
    /// of `127.0.0.1:PORT`) lets a host name mapped to that address keep the URLs a peer
    /// writes into its documents (`http://localhost:PORT/…`).
    pub async fn start_on(
        listen: SocketAddr,
        upstream: SocketAddr,
        delay: Duration,
    ) -> io::Result<Self> {
        loopback_only(listen, "listen address")?;
        loopback_only(upstream, "upstream")?;
        let listener = TcpListener::bind(listen).await?;
        Ok(Self::serve(listener, upstream, delay))
    }

    fn serve(listener: TcpListener, upstream: SocketAddr, delay: Duration) -> Self {
        let addr = listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from((Ipv4Addr::LOCALHOST, 0)));
        let bursts = Arc::new(AtomicUsize::new(0));
        let counter = bursts.clone();
        let task = tokio::spawn(async move {
            // Dropping the set (when this task is aborted) aborts every connection.
            let mut connections = JoinSet::new();
            loop {
                while connections.try_join_next().is_some() {}
                let Ok((client, _)) = listener.accept().await else {
                    // Out of file descriptors or similar: back off rather than spin.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                let counter = counter.clone();
                connections.spawn(async move {
                    if let Ok(server) = TcpStream::connect(upstream).await {
                        join(client, server, delay, counter).await;
                    }
                });
            }
        });
        Self {
            addr,
            upstream,
            bursts,
            task: Some(task),
        }
    }

    /// The address the proxy listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The upstream peer.
    pub fn upstream(&self) -> SocketAddr {
        self.upstream
    }

    /// `scheme://ADDR` (`http://127.0.0.1:PORT`, `ws://…`).
    pub fn url(&self, scheme: &str) -> String {
        format!("{scheme}://{}", self.addr)
    }

    /// How many bursts of server bytes were delayed so far (round trips answered).
    pub fn bursts(&self) -> usize {
        self.bursts.load(Ordering::Relaxed)
    }

    /// Stops accepting, drops every connection, and waits (at most two seconds) for the
    /// tasks to end.
    pub async fn shutdown(mut self) {
        stop(self.task.take()).await;
    }
}

impl Drop for LatencyProxy {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

async fn stop(task: Option<JoinHandle<()>>) {
    if let Some(task) = task {
        task.abort();
        let _ = tokio::time::timeout(SHUTDOWN_TIMEOUT, task).await;
    }
}

/// Joins a client and a server connection: client bytes pass at once, server bytes through
/// the delay line. Ends when both directions have ended.
async fn join(client: TcpStream, server: TcpStream, delay: Duration, bursts: Arc<AtomicUsize>) {
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let upward = async move {
        let _ = tokio::io::copy(&mut client_read, &mut server_write).await;
        let _ = server_write.shutdown().await;
    };
    let (line, mut due) = mpsc::channel::<(Instant, Vec<u8>)>(LINE_CHUNKS);
    let read_server = async move {
        let mut last_due: Option<Instant> = None;
        let mut buf = vec![0u8; CHUNK];
        loop {
            let n = match server_read.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let now = Instant::now();
            if last_due.is_none_or(|d| d <= now) {
                bursts.fetch_add(1, Ordering::Relaxed);
            }
            last_due = Some(now + delay);
            if line.send((now + delay, buf[..n].to_vec())).await.is_err() {
                break;
            }
        }
        // Dropping `line` tells the writer that the server is done.
    };
    let write_client = async move {
        while let Some((at, bytes)) = due.recv().await {
            tokio::time::sleep_until(at).await;
            if client_write.write_all(&bytes).await.is_err() {
                return;
            }
        }
        let _ = client_write.shutdown().await;
    };
    tokio::join!(upward, read_server, write_client);
}

/// A DNS forwarder on loopback (UDP and TCP on one port) that delays every reply.
#[derive(Debug)]
pub struct DnsLatencyProxy {
    addr: SocketAddr,
    bursts: Arc<AtomicUsize>,
    udp_task: Option<JoinHandle<()>>,
    tcp: Option<LatencyProxy>,
}

impl DnsLatencyProxy {
    /// A forwarder on a free port of 127.0.0.1 (the same port for UDP and TCP) in front of
    /// the DNS server `upstream` (UDP and TCP on that address), delaying replies by `delay`.
    pub async fn start(upstream: SocketAddr, delay: Duration) -> io::Result<Self> {
        loopback_only(upstream, "upstream")?;
        let mut last_error = None;
        for _ in 0..PORT_ATTEMPTS {
            let udp = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).await?;
            let addr = udp.local_addr()?;
            match TcpListener::bind(addr).await {
                Ok(listener) => {
                    let tcp = LatencyProxy::serve(listener, upstream, delay);
                    let bursts = Arc::new(AtomicUsize::new(0));
                    let udp_task =
                        tokio::spawn(forward_udp(Arc::new(udp), upstream, delay, bursts.clone()));
                    return Ok(Self {
                        addr,
                        bursts,
                        udp_task: Some(udp_task),
                        tcp: Some(tcp),
                    });
                }
                Err(e) => last_error = Some(e),
            }
        }
        Err(last_error.unwrap_or_else(|| io::Error::other("no port free for UDP and TCP")))
    }

    /// The address (UDP and TCP) to give a resolver.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// How many replies were delayed so far, over UDP and TCP.
    pub fn bursts(&self) -> usize {
        self.bursts.load(Ordering::Relaxed) + self.tcp.as_ref().map_or(0, LatencyProxy::bursts)
    }

    /// Stops both listeners and waits (bounded) for their tasks to end.
    pub async fn shutdown(mut self) {
        stop(self.udp_task.take()).await;
        if let Some(tcp) = self.tcp.take() {
            tcp.shutdown().await;
        }
    }
}

impl Drop for DnsLatencyProxy {
    fn drop(&mut self) {
        if let Some(task) = self.udp_task.take() {
            task.abort();
        }
    }
}

/// Forwards each query from its own socket, so replies never mix, and sends the reply back
/// after the delay. A query the upstream does not answer within [`UDP_REPLY_TIMEOUT`] is
/// dropped, as a lossy network would.
async fn forward_udp(
    socket: Arc<UdpSocket>,
    upstream: SocketAddr,
    delay: Duration,
    bursts: Arc<AtomicUsize>,
) {
    let mut queries = JoinSet::new();
    let mut buf = vec![0u8; 65_535];
    loop {
        while queries.try_join_next().is_some() {}
        let Ok((n, client)) = socket.recv_from(&mut buf).await else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let query = buf[..n].to_vec();
        let (socket, bursts) = (socket.clone(), bursts.clone());
        queries.spawn(async move {
            let Ok(relay) = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).await else {
                return;
            };
            if relay.connect(upstream).await.is_err() || relay.send(&query).await.is_err() {
                return;
            }
            let mut reply = vec![0u8; 65_535];
            let Ok(Ok(len)) = tokio::time::timeout(UDP_REPLY_TIMEOUT, relay.recv(&mut reply)).await
            else {
                return;
            };
            bursts.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(delay).await;
            let _ = socket.send_to(&reply[..len], client).await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DELAY: Duration = Duration::from_millis(100);
    const BOUND: Duration = Duration::from_secs(10);

    /// An echo server on 127.0.0.1 that answers each read with the same bytes.
    async fn echo_server() -> (SocketAddr, JoinHandle<()>) {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let task = tokio::spawn(async move {
            let mut set = JoinSet::new();
            while let Ok((mut stream, _)) = listener.accept().await {
                set.spawn(async move {
                    let mut buf = vec![0u8; 4096];
                    while let Ok(n) = stream.read(&mut buf).await {
                        if n == 0 || stream.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        (addr, task)
    }

    #[tokio::test]
    async fn tcp_answers_arrive_intact_after_the_delay() {
        tokio::time::timeout(BOUND, async {
            let (upstream, server) = echo_server().await;
            let proxy = LatencyProxy::start(upstream, DELAY).await.expect("proxy");
            assert!(proxy.addr().ip().is_loopback());
            let mut client = TcpStream::connect(proxy.addr()).await.expect("connect");
            // Every byte value, more than one read's worth.
            let sent: Vec<u8> = (0..3 * CHUNK + 17).map(|i| (i % 251) as u8).collect();
            let started = std::time::Instant::now();
            client.write_all(&sent).await.expect("write");
            let mut got = vec![0u8; sent.len()];
            client.read_exact(&mut got).await.expect("read");
            let elapsed = started.elapsed();
            assert_eq!(got, sent, "bytes forwarded intact");
            assert!(elapsed >= DELAY, "answered after {elapsed:?}");
            assert!(
                elapsed < DELAY * 5,
                "delayed once, not per read: {elapsed:?}"
            );
            // A second round trip on the same connection is delayed again.
            let started = std::time::Instant::now();
            client.write_all(b"ping").await.expect("write");
            let mut pong = [0u8; 4];
            client.read_exact(&mut pong).await.expect("read");
            assert_eq!(&pong, b"ping");
            assert!(started.elapsed() >= DELAY);
            assert!(proxy.bursts() >= 2, "{}", proxy.bursts());

            // Shutdown is bounded and drops open connections.
            let started = std::time::Instant::now();
            proxy.shutdown().await;
            assert!(started.elapsed() <= SHUTDOWN_TIMEOUT + Duration::from_millis(500));
            let mut rest = Vec::new();
            let read = tokio::time::timeout(Duration::from_secs(2), client.read_to_end(&mut rest))
                .await
                .expect("the connection closes after shutdown");
            assert!(read.is_err() || rest.is_empty(), "{read:?} {rest:?}");
            server.abort();
        })
        .await
        .expect("finished in time");
    }

    #[tokio::test]
    async fn refuses_addresses_beyond_loopback() {
        let outside: SocketAddr = "192.0.2.1:53".parse().expect("addr");
        assert!(LatencyProxy::start(outside, DELAY).await.is_err());
        assert!(DnsLatencyProxy::start(outside, DELAY).await.is_err());
        let listen: SocketAddr = "0.0.0.0:0".parse().expect("addr");
        let upstream: SocketAddr = "127.0.0.1:9".parse().expect("addr");
        assert!(LatencyProxy::start_on(listen, upstream, DELAY)
            .await
            .is_err());
    }

    #[tokio::test]
    async fn udp_replies_are_delayed_and_intact() {
        tokio::time::timeout(BOUND, async {
            // A UDP "server" that answers each datagram reversed.
            let server = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))
                .await
                .expect("bind");
            let upstream = server.local_addr().expect("addr");
            let server_task = tokio::spawn(async move {
                let mut buf = [0u8; 512];
                while let Ok((n, from)) = server.recv_from(&mut buf).await {
                    let mut reply = buf[..n].to_vec();
                    reply.reverse();
                    let _ = server.send_to(&reply, from).await;
                }
            });
            let proxy = DnsLatencyProxy::start(upstream, DELAY)
                .await
                .expect("proxy");
            let client = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))
                .await
                .expect("bind");
            let started = std::time::Instant::now();
            client
                .send_to(b"\x00\x01query", proxy.addr())
                .await
                .expect("send");
            let mut buf = [0u8; 512];
            let (n, from) = client.recv_from(&mut buf).await.expect("reply");
            assert!(started.elapsed() >= DELAY);
            assert_eq!(from, proxy.addr());
            assert_eq!(&buf[..n], b"yreuq\x01\x00");
            assert_eq!(proxy.bursts(), 1);
            let started = std::time::Instant::now();
            proxy.shutdown().await;
            assert!(started.elapsed() <= 2 * SHUTDOWN_TIMEOUT + Duration::from_millis(500));
            server_task.abort();
        })
        .await
        .expect("finished in time");
    }
}
