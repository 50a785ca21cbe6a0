//! Party set-up over dealer links: the one sequence every deployment runs (the page's party
//! workers, the remote client, server and dealer, the tests).
//!
//! The dealer draws both parties' dealer seeds from the operating system and sends each party
//! its own as the first frame of that party's link ([`seed_message`]); then it deals, running
//! the program ahead on shapes ([`Party::dealer_to_both`]). A party reads its seed first and
//! builds its correlation source from it: party 0 expands its correlations from the seed and
//! reads only its FSS keys from the link; party 1 reads its corrections (and keys) from the
//! link. Each party also draws a fresh local seed for its own randomness (input masks).
//!
//! What each link carries and why it reveals nothing is in the README's "Security model" and
//! `ARCHITECTURE.md` ("One private inference"); the seed frames are the only set-up traffic.

use super::dealer::{Dealer, DealerClient};
use super::party::{Party, SessionConfig};
use super::prg::Seed;
use super::transport::Transport;
use crate::{Error, Result};

const SEED_MAGIC: &[u8; 4] = b"SEED";

/// The dealer's first frame to a party: that party's dealer seed.
pub fn seed_message(seed: &Seed) -> Vec<u8> {
    let mut m = SEED_MAGIC.to_vec();
    m.extend_from_slice(&seed.0);
    m
}

/// Parses [`seed_message`], rejecting anything else.
pub fn parse_seed_message(bytes: &[u8]) -> Result<Seed> {
    if bytes.len() != 36 || &bytes[..4] != SEED_MAGIC {
        return Err(Error::Protocol(format!(
            "expected the dealer's 36-byte seed message, got {} bytes",
            bytes.len()
        )));
    }
    let mut s = [0u8; 32];
    s.copy_from_slice(&bytes[4..]);
    Ok(Seed(s))
}

/// The dealer's side: fresh seeds from the OS, each party's sent on its link, and the dealing
/// party that runs the program ahead (party 1's corrections and keys to `to_party1`, party 0's
/// keys to `to_party0`; with the classic family only the seed goes to party 0).
pub fn start_dealer(
    cfg: SessionConfig,
    mut to_party0: Box<dyn Transport>,
    mut to_party1: Box<dyn Transport>,
) -> Result<Party> {
    let (s0, s1) = (Seed::from_os()?, Seed::from_os()?);
    to_party0.send(seed_message(&s0))?;
    to_party1.send(seed_message(&s1))?;
    Ok(Party::dealer_to_both(
        cfg,
        Dealer::new(s0, s1),
        to_party0,
        to_party1,
    ))
}

/// Party `id` (0 or 1) whose dealer seed has been read from `dealer`: talks to the other party
/// over `peer`, reads the rest of the dealer's stream from `dealer`.
pub fn seeded_party(
    id: usize,
    cfg: SessionConfig,
    peer: Box<dyn Transport>,
    seed: Seed,
    dealer: Box<dyn Transport>,
) -> Result<Party> {
    let correlations = match id {
        0 => DealerClient::party0_remote_keys(seed, dealer),
        1 => DealerClient::party1_remote(seed, dealer),
        other => return Err(Error::out_of_range("party id", other, "0 or 1")),
    };
    Party::new(id, cfg, peer, correlations, Seed::from_os()?)
}

/// Party `id`: reads its seed, the first frame of `dealer`, then as [`seeded_party`].
pub async fn join_dealer(
    id: usize,
    cfg: SessionConfig,
    peer: Box<dyn Transport>,
    mut dealer: Box<dyn Transport>,
) -> Result<Party> {
    let seed = parse_seed_message(&dealer.recv().await?)?;
    seeded_party(id, cfg, peer, seed, dealer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mpc::exec::run_joined;
    use crate::mpc::protocols::{reveal, share_input};
    use crate::mpc::transport::mem_pair;

    #[test]
    fn seed_messages_round_trip_and_reject_garbage() {
        let s = Seed::insecure_fixed(3);
        assert_eq!(parse_seed_message(&seed_message(&s)).unwrap().0, s.0);
        assert_err!(parse_seed_message(b"SEEDshort"), Error::Protocol(_));
        assert_err!(parse_seed_message(&[0u8; 36]), Error::Protocol(_));
    }

    #[test]
    fn a_dealer_and_two_joined_parties_compute_a_relu() {
        for family in [
            crate::mpc::ProtocolFamily::Classic,
            crate::mpc::ProtocolFamily::Fss,
        ] {
            let cfg = SessionConfig {
                family,
                ..SessionConfig::default()
            };
            let (d0, p0_dealer) = mem_pair();
            let (d1, p1_dealer) = mem_pair();
            let (a, b) = mem_pair();
            let program = async |p: &mut Party, x: Option<Vec<f64>>| {
                let shape = [2];
                let xs = x.map(|v| ndarray::ArrayD::from_shape_vec(ndarray::IxDyn(&shape), v));
                let xs = xs.transpose()?;
                let s0 = share_input(p, 0, xs.as_ref(), &shape).await?;
                let y = crate::mpc::protocols::relu(p, &s0).await?;
                reveal(p, &y).await
            };
            let mut d = start_dealer(cfg, Box::new(d0), Box::new(d1)).unwrap();
            futures::executor::block_on(program(&mut d, None)).unwrap();
            let (r0, r1) = run_joined(
                async {
                    let mut p = join_dealer(0, cfg, Box::new(a), Box::new(p0_dealer)).await?;
                    program(&mut p, Some(vec![-1.5, 2.25])).await
                },
                async {
                    let mut p = join_dealer(1, cfg, Box::new(b), Box::new(p1_dealer)).await?;
                    program(&mut p, None).await
                },
            )
            .unwrap();
            assert_eq!(r0, r1);
            assert_eq!(r0[0], 0.0, "{family:?}: {r0:?}");
            assert!((r0[1] - 2.25).abs() < 1e-3, "{family:?}: {r0:?}");
        }
    }

    #[test]
    fn a_third_party_id_is_refused() {
        let (a, _b) = mem_pair();
        let (d, _e) = mem_pair();
        let cfg = SessionConfig::default();
        let r = seeded_party(2, cfg, Box::new(a), Seed::insecure_fixed(1), Box::new(d));
        assert_err!(r, Error::OutOfRange { .. });
    }
}
