//! `syllabus healthcheck`: asks the running server's `GET /readyz` whether it is ready, for a
//! container's `HEALTHCHECK` (the image has no curl). A hand-written HTTP/1.1 request over a
//! `std::net::TcpStream`: no HTTP client, no async runtime, one connection, one deadline.

use std::io::{Read as _, Write as _};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

/// The longest status line and headers read before giving up on the answer.
const MAX_HEAD: usize = 8 * 1024;

/// Where to connect to reach a server listening on `bind`: an unspecified address (`0.0.0.0`,
/// `[::]`) listens on every interface, loopback included, so the check goes to loopback.
pub fn target(bind: SocketAddr) -> SocketAddr {
    match bind.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), bind.port())
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), bind.port())
        }
        _ => bind,
    }
}

/// `GET http://{addr}/readyz` within `timeout` (connect, send and read together). `Ok` with the
/// status line when the answer is 200, otherwise an error saying what happened.
pub fn check(addr: SocketAddr, timeout: Duration) -> anyhow::Result<String> {
    let url = format!("http://{addr}/readyz");
    let deadline = Instant::now() + timeout;
    let mut stream = TcpStream::connect_timeout(&addr, timeout)
        .with_context(|| format!("{url}: cannot connect"))?;
    let left = |what: &str| {
        deadline
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
            .with_context(|| format!("{url}: no answer within {timeout:?} ({what})"))
    };
    stream.set_write_timeout(Some(left("sending")?))?;
    let request = format!(
        "GET /readyz HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: syllabus-healthcheck\r\nAccept: */*\r\nConnection: close\r\n\r\n"
    );
    stream
        .write_all(request.as_bytes())
        .with_context(|| format!("{url}: cannot send the request"))?;

    // Only the status line matters; read until its end (or the head's end, or EOF).
    let mut head = Vec::with_capacity(256);
    let mut buf = [0_u8; 512];
    while !head.windows(2).any(|w| w == b"\r\n") {
        stream.set_read_timeout(Some(left("reading")?))?;
        let n = match stream.read(&mut buf) {
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                bail!("{url}: no answer within {timeout:?}")
            }
            Err(e) => return Err(e).with_context(|| format!("{url}: cannot read the answer")),
        };
        if n == 0 {
            break;
        }
        head.extend_from_slice(buf.get(..n).unwrap_or_default());
        if head.len() > MAX_HEAD {
            break;
        }
    }
    let line = head
        .split(|b| *b == b'\n')
        .next()
        .map(|l| String::from_utf8_lossy(l).trim_end().to_owned())
        .unwrap_or_default();
    let mut parts = line.split_whitespace();
    let (version, status) = (parts.next(), parts.next());
    if !version.is_some_and(|v| v.starts_with("HTTP/1.")) {
        bail!("{url}: not an HTTP/1.x answer");
    }
    match status {
        Some("200") => Ok(format!("{url}: {line}")),
        Some(code) => bail!("{url}: not ready (HTTP {code})"),
        None => bail!("{url}: an answer without a status"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unspecified_bind_address_is_checked_on_loopback() {
        let cases = [
            ("0.0.0.0:8080", "127.0.0.1:8080"),
            ("[::]:9000", "[::1]:9000"),
            ("127.0.0.1:8080", "127.0.0.1:8080"),
            ("10.1.2.3:80", "10.1.2.3:80"),
            ("[::1]:8080", "[::1]:8080"),
        ];
        for (bind, expected) in cases {
            let bind: SocketAddr = bind.parse().unwrap();
            assert_eq!(target(bind).to_string(), expected, "{bind}");
        }
    }
}
