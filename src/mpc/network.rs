//! The network a session runs over, for latency estimates and for
//! [`super::transport::Shaped`]: named profiles (the paper's WAN, our LAN) and a clock that
//! works natively and in wasm.

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Seconds from an arbitrary origin: `Instant` natively, `performance.now()` (or `Date.now()`)
/// in wasm.
pub fn now_s() -> f64 {
    #[cfg(not(target_arch = "wasm32"))]
    {
        use std::sync::OnceLock;
        use std::time::Instant;
        static START: OnceLock<Instant> = OnceLock::new();
        START.get_or_init(Instant::now).elapsed().as_secs_f64()
    }
    #[cfg(target_arch = "wasm32")]
    {
        use wasm_bindgen::JsCast;
        let global = js_sys::global();
        if let Ok(perf) = js_sys::Reflect::get(&global, &"performance".into()) {
            if let Ok(now) = js_sys::Reflect::get(&perf, &"now".into()) {
                if let Ok(f) = now.dyn_into::<js_sys::Function>() {
                    if let Some(ms) = f.call0(&perf).ok().and_then(|v| v.as_f64()) {
                        return ms / 1000.0;
                    }
                }
            }
        }
        js_sys::Date::now() / 1000.0
    }
}

/// A network for latency estimates and for [`super::transport::Shaped`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NetworkProfile {
    /// Display name.
    pub name: String,
    /// Round-trip time in seconds.
    pub rtt_s: f64,
    /// Bandwidth in bytes per second.
    pub bandwidth_bytes_per_s: f64,
}

impl NetworkProfile {
    /// The named profiles with the key that names them (what the CLI's `--profile`, the page's
    /// settings and the search accept): LAN, then the paper's WAN.
    pub fn named() -> [(&'static str, NetworkProfile); 2] {
        [
            ("lan", NetworkProfile::lan()),
            ("wan", NetworkProfile::wan()),
        ]
    }

    /// The profile named `lan` or `wan`.
    pub fn from_name(name: &str) -> Result<Self> {
        NetworkProfile::named()
            .into_iter()
            .find(|(key, _)| *key == name)
            .map(|(_, profile)| profile)
            .ok_or_else(|| Error::UnknownName {
                what: "network profile",
                got: name.into(),
                expected: "wan or lan",
            })
    }

    /// LAN: 1 GB/s (8 Gbit/s) and 0.1 ms RTT (our choice; the paper gives no LAN setting).
    pub fn lan() -> Self {
        NetworkProfile {
            name: "LAN".into(),
            rtt_s: 1e-4,
            bandwidth_bytes_per_s: 1e9,
        }
    }

    /// WAN as in the paper: 44 MB/s (44e6 bytes/s) and 40 ms RTT.
    pub fn wan() -> Self {
        NetworkProfile {
            name: "WAN".into(),
            rtt_s: 0.040,
            bandwidth_bytes_per_s: 44e6,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_are_found_by_name() {
        assert_eq!(
            NetworkProfile::from_name("lan").unwrap(),
            NetworkProfile::lan()
        );
        assert_eq!(
            NetworkProfile::from_name("wan").unwrap(),
            NetworkProfile::wan()
        );
        let e = NetworkProfile::from_name("WAN ").unwrap_err();
        assert!(
            matches!(&e, Error::UnknownName { what: "network profile", got, .. } if got == "WAN ")
                && e.to_string().contains("expected wan or lan"),
            "{e}"
        );
    }
}
