//! Digits drawn the way people draw on the page's canvas: a hand-written template per digit
//! (several styles each: a 1 with or without a flag, a 4 closed or open, a 7 with or without a
//! bar), its control points jittered, slanted, squeezed, sized and placed at random on the
//! canvas, smoothed into the path a pointer follows and stroked with the page's brush
//! (www/app.js: `lineWidth = 20` on a 280x280 canvas, round caps and joins, black on white).
//!
//! The canvas is rendered at 1/5 of the page's resolution (56x56, brush 4 px): the model sees
//! the drawing after the upload preprocessing shrinks it to a 20x20 box anyway, and the set
//! stays small on disk.

use rand::Rng;

use super::brush::{catmull_rom, Canvas};

/// Side of the stored canvas.
pub const SIDE: usize = 56;

/// The page's brush (20 px on 280 px) at [`SIDE`].
pub const BRUSH: f32 = 20.0 * SIDE as f32 / 280.0;

type Stroke = &'static [(f32, f32)];

/// Templates per digit, strokes of control points in the unit box (x right, y down), in the
/// order people usually draw them.
const TEMPLATES: [&[&[Stroke]]; 10] = [
    &[&[&[
        (0.55, 0.0),
        (0.2, 0.12),
        (0.05, 0.5),
        (0.2, 0.9),
        (0.5, 1.0),
        (0.8, 0.88),
        (0.95, 0.5),
        (0.82, 0.12),
        (0.55, 0.0),
        (0.42, 0.06),
    ]]],
    &[
        &[&[(0.5, 0.0), (0.5, 1.0)]],
        &[&[(0.2, 0.22), (0.55, 0.0), (0.55, 1.0)]],
        &[
            &[(0.2, 0.22), (0.55, 0.0), (0.55, 1.0)],
            &[(0.2, 1.0), (0.9, 1.0)],
        ],
    ],
    &[
        &[&[
            (0.1, 0.25),
            (0.35, 0.02),
            (0.68, 0.03),
            (0.85, 0.27),
            (0.72, 0.52),
            (0.4, 0.76),
            (0.08, 1.0),
            (0.5, 0.98),
            (0.92, 1.0),
        ]],
        &[&[
            (0.12, 0.2),
            (0.45, 0.0),
            (0.8, 0.15),
            (0.75, 0.45),
            (0.1, 1.0),
            (0.95, 0.97),
        ]],
    ],
    &[
        &[&[
            (0.12, 0.12),
            (0.5, 0.0),
            (0.82, 0.13),
            (0.76, 0.38),
            (0.42, 0.5),
            (0.8, 0.62),
            (0.86, 0.86),
            (0.5, 1.0),
            (0.12, 0.9),
        ]],
        &[&[
            (0.1, 0.0),
            (0.85, 0.0),
            (0.4, 0.42),
            (0.85, 0.62),
            (0.8, 0.9),
            (0.45, 1.0),
            (0.1, 0.88),
        ]],
    ],
    &[
        &[
            &[(0.62, 0.0), (0.08, 0.66), (0.95, 0.66)],
            &[(0.68, 0.12), (0.68, 1.0)],
        ],
        &[
            &[(0.18, 0.0), (0.12, 0.56), (0.9, 0.56)],
            &[(0.72, 0.05), (0.72, 1.0)],
        ],
    ],
    &[
        &[
            &[
                (0.24, 0.0),
                (0.18, 0.45),
                (0.52, 0.36),
                (0.84, 0.52),
                (0.86, 0.8),
                (0.55, 1.0),
                (0.1, 0.9),
            ],
            &[(0.24, 0.0), (0.88, 0.0)],
        ],
        &[&[
            (0.88, 0.0),
            (0.24, 0.0),
            (0.18, 0.45),
            (0.52, 0.36),
            (0.84, 0.52),
            (0.86, 0.8),
            (0.55, 1.0),
            (0.1, 0.9),
        ]],
    ],
    &[&[&[
        (0.78, 0.0),
        (0.42, 0.15),
        (0.16, 0.5),
        (0.15, 0.82),
        (0.42, 1.0),
        (0.74, 0.94),
        (0.86, 0.7),
        (0.66, 0.5),
        (0.38, 0.52),
        (0.17, 0.7),
    ]]],
    &[
        &[&[(0.08, 0.02), (0.92, 0.0), (0.58, 0.48), (0.38, 1.0)]],
        &[
            &[(0.08, 0.02), (0.92, 0.0), (0.58, 0.48), (0.38, 1.0)],
            &[(0.32, 0.5), (0.84, 0.48)],
        ],
    ],
    &[&[&[
        (0.8, 0.14),
        (0.5, 0.0),
        (0.2, 0.14),
        (0.24, 0.36),
        (0.5, 0.5),
        (0.8, 0.68),
        (0.8, 0.9),
        (0.5, 1.0),
        (0.2, 0.9),
        (0.2, 0.68),
        (0.5, 0.5),
        (0.76, 0.34),
        (0.8, 0.14),
    ]]],
    &[
        &[&[
            (0.82, 0.24),
            (0.6, 0.02),
            (0.26, 0.06),
            (0.16, 0.32),
            (0.4, 0.5),
            (0.72, 0.42),
            (0.82, 0.24),
            (0.8, 0.62),
            (0.72, 1.0),
        ]],
        &[
            &[
                (0.84, 0.22),
                (0.58, 0.0),
                (0.22, 0.08),
                (0.18, 0.36),
                (0.46, 0.48),
                (0.8, 0.3),
            ],
            &[(0.84, 0.1), (0.84, 1.0)],
        ],
    ],
];

/// Draws digit `label` on a fresh [`SIDE`] x [`SIDE`] canvas; returns grey bytes, white paper.
pub fn draw_digit(label: u8, rng: &mut impl Rng) -> Vec<u8> {
    let styles = TEMPLATES[label as usize % 10];
    let strokes = styles[rng.gen_range(0..styles.len())];
    // The shape as a whole: slant (shear), tilt, width relative to height.
    let slant = rng.gen_range(-0.3f32..=0.3);
    let tilt = rng.gen_range(-10f32..=10.0).to_radians();
    let aspect = rng.gen_range(0.55f32..=1.0);
    // Size: people draw large and small.
    let side = SIDE as f32;
    let height = rng.gen_range(0.35f32..=0.8) * side;
    let width = height * aspect;
    let (s, c) = tilt.sin_cos();
    let jitter = 0.05;
    let mut paths: Vec<Vec<(f32, f32)>> = Vec::with_capacity(strokes.len());
    for stroke in strokes {
        let ctrl: Vec<(f32, f32)> = stroke
            .iter()
            .map(|&(u, v)| {
                let u = u + rng.gen_range(-jitter..=jitter);
                let v = v + rng.gen_range(-jitter..=jitter);
                // Slant about the vertical centre, tilt about the box centre.
                let (px, py) = ((u - 0.5 + slant * (0.5 - v)) * width, (v - 0.5) * height);
                (c * px - s * py, s * px + c * py)
            })
            .collect();
        // Pointer events arrive every few pixels: the smooth path, sampled, with tremor.
        paths.push(
            catmull_rom(&ctrl, 6)
                .into_iter()
                .map(|(x, y)| (x + rng.gen_range(-0.3..=0.3), y + rng.gen_range(-0.3..=0.3)))
                .collect(),
        );
    }
    // Place it anywhere the whole drawing fits, brush included: rarely centred.
    let pts = paths.iter().flatten();
    let (min_x, max_x) = pts
        .clone()
        .fold((f32::MAX, f32::MIN), |(a, b), p| (a.min(p.0), b.max(p.0)));
    let (min_y, max_y) = pts.fold((f32::MAX, f32::MIN), |(a, b), p| (a.min(p.1), b.max(p.1)));
    let margin = BRUSH;
    let place = |rng: &mut dyn rand::RngCore, lo: f32, hi: f32| {
        let free = side - 2.0 * margin - (hi - lo);
        margin - lo
            + if free > 0.0 {
                rng.gen_range(0.0..=free)
            } else {
                free / 2.0
            }
    };
    let (dx, dy) = (place(rng, min_x, max_x), place(rng, min_y, max_y));
    let mut canvas = Canvas::new(SIDE, SIDE);
    for path in paths {
        let moved: Vec<(f32, f32)> = path.into_iter().map(|(x, y)| (x + dx, y + dy)).collect();
        canvas.stroke(&moved, BRUSH);
    }
    canvas.to_gray()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::preprocess_gray;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn every_digit_draws_ink_that_preprocesses_and_is_deterministic() {
        for label in 0..10u8 {
            let a = draw_digit(label, &mut ChaCha8Rng::seed_from_u64(label as u64));
            let b = draw_digit(label, &mut ChaCha8Rng::seed_from_u64(label as u64));
            assert_eq!(a, b);
            assert_eq!(a.len(), SIDE * SIDE);
            let ink = a.iter().filter(|&&v| v < 128).count();
            assert!(
                ink > 20 && ink < SIDE * SIDE / 2,
                "digit {label}: {ink} ink pixels"
            );
            let border_ink = (0..SIDE).any(|i| a[i] < 128 || a[(SIDE - 1) * SIDE + i] < 128);
            assert!(!border_ink, "digit {label} touches the top or bottom edge");
            let prepared = preprocess_gray(SIDE, SIDE, &a, 28).unwrap();
            assert!(prepared.contains(&255));
        }
    }
}
