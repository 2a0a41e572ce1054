//! Which addresses a webhook delivery may connect to: public unicast ones only, loopback when
//! allowed (and then, for `http`, nothing else). IPv4-mapped, NAT64 and 6to4 IPv6 addresses
//! are judged by the IPv4 address they carry.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why an address is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Loopback, and `WEBHOOK_ALLOW_LOOPBACK` is off.
    Loopback,
    /// Not loopback, and the URL is `http` (allowed only to loopback).
    NotLoopback,
    /// Unspecified, private, shared (CGNAT), link-local, multicast, broadcast, reserved,
    /// documentation, benchmarking or another special-purpose range.
    NotPublic,
}

impl Refusal {
    /// The message naming what is wrong, for the field `url`.
    #[must_use]
    pub fn message(self) -> String {
        match self {
            Self::Loopback => "must not point to a loopback address".to_owned(),
            Self::NotLoopback => {
                "may use http only to a loopback address (WEBHOOK_ALLOW_LOOPBACK)".to_owned()
            }
            Self::NotPublic => "must point to a public address".to_owned(),
        }
    }
}

/// The addresses a delivery may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AddressPolicy {
    /// `WEBHOOK_ALLOW_LOOPBACK`: loopback addresses are allowed.
    pub allow_loopback: bool,
    /// Only loopback addresses (an `http` URL).
    pub loopback_only: bool,
}

impl AddressPolicy {
    /// Whether `ip` may be connected to.
    ///
    /// # Errors
    /// Why not.
    pub fn check(self, ip: IpAddr) -> Result<(), Refusal> {
        let v4 = match ip {
            IpAddr::V4(v4) => Some(v4),
            IpAddr::V6(v6) => embedded_v4(v6),
        };
        let loopback = match (ip, v4) {
            (_, Some(v4)) => v4.is_loopback(),
            (IpAddr::V6(v6), None) => v6.is_loopback(),
            (IpAddr::V4(_), None) => false,
        };
        if loopback {
            return if self.allow_loopback {
                Ok(())
            } else {
                Err(Refusal::Loopback)
            };
        }
        if self.loopback_only {
            return Err(Refusal::NotLoopback);
        }
        let public = match (ip, v4) {
            (_, Some(v4)) => public_v4(v4),
            (IpAddr::V6(v6), None) => public_v6(v6),
            (IpAddr::V4(_), None) => false,
        };
        if public {
            Ok(())
        } else {
            Err(Refusal::NotPublic)
        }
    }
}

/// The IPv4 address an IPv6 address stands for: IPv4-mapped (`::ffff:0:0/96`), NAT64
/// (`64:ff9b::/96`) and 6to4 (`2002::/16`).
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let low = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    if let Some(v4) = ip.to_ipv4_mapped() {
        return Some(v4);
    }
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return Some(low(s[6], s[7]));
    }
    if s[0] == 0x2002 {
        return Some(low(s[1], s[2]));
    }
    None
}

/// `a.b.c.d` within `net/bits`.
fn in_v4(ip: Ipv4Addr, net: [u8; 4], bits: u32) -> bool {
    let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
    u32::from(ip) & mask == u32::from(Ipv4Addr::from(net)) & mask
}

/// Not in any special-purpose range that a public service cannot be at.
fn public_v4(ip: Ipv4Addr) -> bool {
    const REFUSED: [([u8; 4], u32); 16] = [
        ([0, 0, 0, 0], 8),          // "this network", unspecified
        ([10, 0, 0, 0], 8),         // private
        ([100, 64, 0, 0], 10),      // shared address space (CGNAT)
        ([127, 0, 0, 0], 8),        // loopback
        ([169, 254, 0, 0], 16),     // link-local (cloud metadata)
        ([172, 16, 0, 0], 12),      // private
        ([192, 0, 0, 0], 24),       // IETF protocol assignments
        ([192, 0, 2, 0], 24),       // documentation (TEST-NET-1)
        ([192, 88, 99, 0], 24),     // 6to4 relay anycast
        ([192, 168, 0, 0], 16),     // private
        ([198, 18, 0, 0], 15),      // benchmarking
        ([198, 51, 100, 0], 24),    // documentation (TEST-NET-2)
        ([203, 0, 113, 0], 24),     // documentation (TEST-NET-3)
        ([224, 0, 0, 0], 4),        // multicast
        ([240, 0, 0, 0], 4),        // reserved
        ([255, 255, 255, 255], 32), // broadcast
    ];
    !REFUSED.iter().any(|(net, bits)| in_v4(ip, *net, *bits))
}

/// `ip` within `net/bits`.
fn in_v6(ip: Ipv6Addr, net: [u16; 8], bits: u32) -> bool {
    let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
    u128::from(ip) & mask == u128::from(Ipv6Addr::from(net)) & mask
}

/// A global unicast IPv6 address outside the special-purpose ranges (those carrying an IPv4
/// address are judged by it before this).
fn public_v6(ip: Ipv6Addr) -> bool {
    const REFUSED: [([u16; 8], u32); 11] = [
        ([0, 0, 0, 0, 0, 0, 0, 0], 96), // ::/96: unspecified, loopback, IPv4-compatible
        ([0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48), // local-use NAT64
        ([0x100, 0, 0, 0, 0, 0, 0, 0], 64), // discard-only
        ([0x2001, 0, 0, 0, 0, 0, 0, 0], 23), // IETF protocol assignments (Teredo, ORCHID…)
        ([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32), // documentation
        ([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20), // documentation (RFC 9637)
        ([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7), // unique local
        ([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10), // link-local
        ([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10), // site-local (deprecated)
        ([0xff00, 0, 0, 0, 0, 0, 0, 0], 8), // multicast
        ([0x5f00, 0, 0, 0, 0, 0, 0, 0], 16), // SRv6 SIDs
    ];
    // Only the global unicast block 2000::/3 is routed on the internet.
    in_v6(ip, [0x2000, 0, 0, 0, 0, 0, 0, 0], 3)
        && !REFUSED.iter().any(|(net, bits)| in_v6(ip, *net, *bits))
}
