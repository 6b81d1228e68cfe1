//! knot, an authoritative DNS server, on loopback (the dns channel's peer).
//!
//! [`KnotPeer::start`] writes a knot configuration with absolute paths into a fresh temporary
//! directory, copies the zone texts there, starts `knotd` on a free port of 127.0.0.1 (UDP
//! and TCP) and waits, bounded, until every zone answers. Zone files are never written back
//! (`zonefile-sync: -1`), so zones kept in `fixtures/dns/` stay untouched. [`KnotPeer::set_zone`]
//! replaces a zone's text and reloads it; dropping the peer stops the server.
//!
//! knot answers NXDOMAIN for a missing name in its zones, NOERROR with no answer for a name
//! without TXT records, REFUSED for names outside its zones, and SERVFAIL for a zone whose
//! file did not load: [`KnotPeer::start_zones`] with an empty zone text configures such a
//! broken zone.
//!
//! knot comes from Debian (`channels/peers/knot/setup.sh` installs it).
//!
//! ```no_run
//! use kez_peers::knot::{fixture_zone, KnotPeer};
//! let zone = fixture_zone("example.com.zone").unwrap();
//! let knot = KnotPeer::start("example.com", &zone).unwrap();
//! println!("dig @127.0.0.1 -p {} TXT _kez.example.com", knot.addr().port());
//! ```

use std::fs::{self, File};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long [`KnotPeer::start`] waits for every zone to answer.
const READY_TIMEOUT: Duration = Duration::from_secs(15);
/// How long a reload may take before [`KnotPeer::set_zone`] gives up.
const RELOAD_TIMEOUT: Duration = Duration::from_secs(10);
/// How many free ports are tried before giving up (another process may take one first).
const PORT_ATTEMPTS: usize = 5;

/// A running knot server on 127.0.0.1, stopped when dropped.
#[derive(Debug)]
pub struct KnotPeer {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
    knotc: PathBuf,
    zones: Vec<String>,
}

/// The directory holding the zone files of the tests (`fixtures/dns/`).
pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/dns")
}

/// The text of a zone file in `fixtures/dns/`.
pub fn fixture_zone(file: &str) -> Result<String, String> {
    let path = fixtures_dir().join(file);
    fs::read_to_string(&path).map_err(|e| format!("reading {}: {e}", path.display()))
}

impl KnotPeer {
    /// Starts knot serving one zone: `zone_name` (`example.com`) with the RFC 1035 zone file
    /// text `zone_text`.
    pub fn start(zone_name: &str, zone_text: &str) -> Result<KnotPeer, String> {
        Self::start_zones(&[(zone_name, zone_text)])
    }

    /// Starts knot serving several zones, each `(name, text)`. A zone with an empty text is
    /// configured with a zone file that does not exist: knot answers SERVFAIL for its names.
    pub fn start_zones(zones: &[(&str, &str)]) -> Result<KnotPeer, String> {
        if zones.is_empty() {
            return Err("knot needs at least one zone".into());
        }
        let knotd = find_program("knotd")?;
        let knotc = find_program("knotc")?;
        let dir = tempfile::Builder::new()
            .prefix("kez-knot-")
            .tempdir()
            .map_err(|e| format!("creating a temporary directory: {e}"))?;
        let root = dir
            .path()
            .canonicalize()
            .map_err(|e| format!("resolving {}: {e}", dir.path().display()))?;
        let mut names = Vec::new();
        for (name, text) in zones {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            if name.is_empty()
                || !name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b))
            {
                return Err(format!("zone name {name:?} is not a plain domain name"));
            }
            if !text.is_empty() {
                write_file(&zone_path(&root, &name), text)?;
            }
            names.push(name);
        }

        let mut last_error = String::new();
        for _ in 0..PORT_ATTEMPTS {
            let port = free_port()?;
            let conf = root.join("knot.conf");
            write_file(&conf, &config(&root, port, &names))?;
            check_config(&knotc, &conf)?;
            let log = File::create(root.join("knotd.log"))
                .map_err(|e| format!("creating the knot log: {e}"))?;
            let log_err = log
                .try_clone()
                .map_err(|e| format!("opening the knot log: {e}"))?;
            let child = Command::new(&knotd)
                .arg("-c")
                .arg(&conf)
                .stdin(Stdio::null())
                .stdout(Stdio::from(log))
                .stderr(Stdio::from(log_err))
                .spawn()
                .map_err(|e| format!("starting {}: {e}", knotd.display()))?;
            let mut child = child;
            let broken: Vec<bool> = zones.iter().map(|(_, text)| text.is_empty()).collect();
            match wait_ready(&mut child, port, &root, &names, &broken) {
                Ok(()) => {
                    return Ok(KnotPeer {
                        child,
                        port,
                        dir,
                        knotc,
                        zones: names,
                    })
                }
                Err(e) => {
                    last_error = e;
                    let _ = child.kill();
                    let _ = child.wait();
                }
            }
        }
        Err(format!(
            "knot did not start after {PORT_ATTEMPTS} attempts: {last_error}"
        ))
    }

    /// The address knot answers on (UDP and TCP).
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }

    /// The zones knot serves, lowercase, without a trailing dot.
    pub fn zones(&self) -> &[String] {
        &self.zones
    }

    /// Replaces the text of the first zone and reloads it; returns once knot serves it.
    pub fn set_zone(&self, text: &str) -> Result<(), String> {
        let name = self
            .zones
            .first()
            .ok_or_else(|| "knot serves no zone".to_string())?
            .clone();
        self.set_zone_named(&name, text)
    }

    /// Replaces the text of zone `name` and reloads it; returns once knot serves it (its
    /// SOA answers NOERROR).
    pub fn set_zone_named(&self, name: &str, text: &str) -> Result<(), String> {
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        if !self.zones.contains(&name) {
            return Err(format!("knot does not serve zone {name}"));
        }
        let root = self.dir.path();
        write_file(&zone_path(root, &name), text)?;
        let output = Command::new(&self.knotc)
            .arg("-c")
            .arg(root.join("knot.conf"))
            .arg("-b")
            .arg("-t")
            .arg("10")
            .arg("zone-reload")
            .arg(&name)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("running knotc zone-reload: {e}"))?;
        if !output.status.success() {
            return Err(format!(
                "knotc zone-reload {name} failed: {}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ));
        }
        let deadline = Instant::now() + RELOAD_TIMEOUT;
        loop {
            if soa_rcode(self.port, &name) == Some(RCODE_NOERROR) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "zone {name} did not answer after the reload: {}",
                    self.log_tail()
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn log_tail(&self) -> String {
        log_tail(self.dir.path())
    }
}

impl Drop for KnotPeer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits, bounded, until knot answers on TCP and every zone answers its SOA query: NOERROR,
/// or SERVFAIL for a zone configured broken.
fn wait_ready(
    child: &mut Child,
    port: u16,
    root: &Path,
    zones: &[String],
    broken: &[bool],
) -> Result<(), String> {
    let deadline = Instant::now() + READY_TIMEOUT;
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("knotd exited ({status}): {}", log_tail(root)));
        }
        let tcp_up = TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok();
        let zones_up = tcp_up
            && zones.iter().zip(broken).all(|(zone, broken)| {
                let want = if *broken {
                    RCODE_SERVFAIL
                } else {
                    RCODE_NOERROR
                };
                soa_rcode(port, zone) == Some(want)
            });
        if zones_up {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "knot did not answer for every zone within {READY_TIMEOUT:?}: {}",
                log_tail(root)
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The last lines knot logged, for error messages.
fn log_tail(root: &Path) -> String {
    let log = fs::read_to_string(root.join("knotd.log")).unwrap_or_default();
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(8)..].join(" | ")
}

fn zone_path(root: &Path, name: &str) -> PathBuf {
    root.join(format!("{name}.zone"))
}

fn write_file(path: &Path, text: &str) -> Result<(), String> {
    fs::write(path, text).map_err(|e| format!("writing {}: {e}", path.display()))
}

/// The knot configuration: absolute paths, loopback only, zone files never written back.
fn config(root: &Path, port: u16, zones: &[String]) -> String {
    let root = root.display();
    let mut text = format!(
        "server:\n    rundir: \"{root}\"\n    listen: 127.0.0.1@{port}\n\
         log:\n  - target: stderr\n    any: info\n\
         database:\n    storage: \"{root}/db\"\n\
         control:\n    listen: \"{root}/knot.sock\"\n\
         template:\n  - id: default\n    storage: \"{root}\"\n    zonefile-sync: -1\n    \
         zonefile-load: whole\n    journal-content: none\n    semantic-checks: off\n\
         zone:\n"
    );
    for zone in zones {
        text.push_str(&format!(
            "  - domain: {zone}\n    file: \"{root}/{zone}.zone\"\n"
        ));
    }
    text
}

fn check_config(knotc: &Path, conf: &Path) -> Result<(), String> {
    let output = Command::new(knotc)
        .arg("-c")
        .arg(conf)
        .arg("conf-check")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("running knotc conf-check: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "knot rejects its generated configuration: {}",
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

/// knotd and knotc live in /usr/sbin, which a non-root PATH may lack.
fn find_program(name: &str) -> Result<PathBuf, String> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/local/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
        .ok_or_else(|| {
            format!("{name} not found: run channels/peers/knot/setup.sh to install knot")
        })
}

/// A port free on 127.0.0.1 for both UDP and TCP at the time of asking.
fn free_port() -> Result<u16, String> {
    for _ in 0..20 {
        let udp = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))
            .map_err(|e| format!("binding a UDP socket on 127.0.0.1: {e}"))?;
        let port = udp
            .local_addr()
            .map_err(|e| format!("reading a socket address: {e}"))?
            .port();
        if TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok() {
            return Ok(port);
        }
    }
    Err("no port free for both UDP and TCP on 127.0.0.1".into())
}

const RCODE_NOERROR: u8 = 0;
const RCODE_SERVFAIL: u8 = 2;

/// The response code knot gives to a SOA query for `zone` over UDP, or `None` if it does
/// not answer within 200 ms.
fn soa_rcode(port: u16, zone: &str) -> Option<u8> {
    let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).ok()?;
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .ok()?;
    let id: u16 = 0x4b5a ^ port;
    let mut query = Vec::with_capacity(64);
    query.extend_from_slice(&id.to_be_bytes());
    query.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0, 0]); // no flags, one question
    for label in zone.split('.').filter(|l| !l.is_empty()) {
        let len = u8::try_from(label.len()).ok()?;
        query.push(len);
        query.extend_from_slice(label.as_bytes());
    }
    query.push(0);
    query.extend_from_slice(&[0, 6, 0, 1]); // SOA, IN
    socket.send_to(&query, (Ipv4Addr::LOCALHOST, port)).ok()?;
    let mut answer = [0u8; 4096];
    let (len, _) = socket.recv_from(&mut answer).ok()?;
    if len < 12 || answer[..2] != id.to_be_bytes() || answer[2] & 0x80 == 0 {
        return None;
    }
    Some(answer[3] & 0x0f)
}
