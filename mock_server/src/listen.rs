//! The listening socket: a backlog deep enough for thousands of connections opening at
//! once, and the kernel's count of connections dropped because a listen queue was full.
//! A dropped SYN comes back after 1, 3, 7 s of retransmission and would otherwise hide
//! in the client's time to first token.

use std::net::SocketAddr;
use tokio::net::{TcpListener, TcpSocket};

/// The backlog asked for by default; the kernel grants at most `net.core.somaxconn`.
pub const DEFAULT_BACKLOG: u32 = 65_535;

pub(crate) fn bind(addr: SocketAddr, backlog: u32) -> std::io::Result<TcpListener> {
    let socket = match addr {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    // As std's TcpListener::bind does: a restarted mock can take its port back at once.
    #[cfg(unix)]
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(backlog)
}

/// The backlog the kernel grants for `asked`: Linux caps it at `net.core.somaxconn`.
pub fn granted_backlog(asked: u32) -> u32 {
    std::fs::read_to_string("/proc/sys/net/core/somaxconn")
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok())
        .map_or(asked, |max| asked.min(max))
}

/// The machine's count of connections dropped for a full listen queue (Linux's TcpExt
/// `ListenOverflows`), where the platform exposes it.
pub fn listen_overflows() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/net/netstat").ok()?;
    let mut lines = text.lines();
    while let (Some(names), Some(values)) = (lines.next(), lines.next()) {
        if !names.starts_with("TcpExt:") {
            continue;
        }
        let at = names
            .split_whitespace()
            .position(|n| n == "ListenOverflows")?;
        return values.split_whitespace().nth(at)?.parse().ok();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_kernels_counters_where_it_has_them() {
        if std::path::Path::new("/proc/net/netstat").exists() {
            assert!(listen_overflows().is_some());
            assert!(granted_backlog(DEFAULT_BACKLOG) >= 128);
        }
        assert!(granted_backlog(16) <= 16);
    }

    #[tokio::test]
    async fn a_bound_listener_accepts() {
        let l = bind("127.0.0.1:0".parse().unwrap(), 1024).unwrap();
        let addr = l.local_addr().unwrap();
        let (_c, _s) = tokio::join!(tokio::net::TcpStream::connect(addr), l.accept());
    }
}
