//! A stroke rasteriser that draws as the page's canvas does (www/app.js): paths of straight
//! segments between pointer samples, stroked with a round cap and round join, black on white.
//! Coverage is the brush disc swept along the path with a one-pixel anti-aliasing ramp, which
//! is what a 2-D canvas renders for `lineCap = lineJoin = 'round'` up to its own AA filter.

/// A grey canvas, `1.0` white paper, `0.0` full ink.
pub struct Canvas {
    /// Pixels per row.
    pub width: usize,
    /// Rows.
    pub height: usize,
    /// Ink coverage per pixel in `[0, 1]`, row-major.
    ink: Vec<f32>,
}

impl Canvas {
    /// A blank (white) canvas.
    pub fn new(width: usize, height: usize) -> Self {
        Canvas {
            width,
            height,
            ink: vec![0.0; width * height],
        }
    }

    /// Strokes the polyline `points` (pixel coordinates, pixel centres at `i + 0.5` as on a
    /// canvas) with a brush of diameter `width`. One point draws a dot, as a tap does.
    pub fn stroke(&mut self, points: &[(f32, f32)], width: f32) {
        let r = width / 2.0;
        let segments: Vec<((f32, f32), (f32, f32))> = match points {
            [] => return,
            [p] => vec![(*p, *p)],
            _ => points.windows(2).map(|w| (w[0], w[1])).collect(),
        };
        for (a, b) in segments {
            // Only the pixels near the segment can be covered.
            let (x0, x1) = (a.0.min(b.0) - r - 1.0, a.0.max(b.0) + r + 1.0);
            let (y0, y1) = (a.1.min(b.1) - r - 1.0, a.1.max(b.1) + r + 1.0);
            let xs = x0.floor().max(0.0) as usize..(x1.ceil().max(0.0) as usize).min(self.width);
            let ys = y0.floor().max(0.0) as usize..(y1.ceil().max(0.0) as usize).min(self.height);
            for y in ys {
                for x in xs.clone() {
                    let d = segment_distance((x as f32 + 0.5, y as f32 + 0.5), a, b);
                    let cover = (r - d + 0.5).clamp(0.0, 1.0);
                    let v = &mut self.ink[y * self.width + x];
                    *v = v.max(cover);
                }
            }
        }
    }

    /// The canvas as grey bytes (255 = white paper), row-major.
    pub fn to_gray(&self) -> Vec<u8> {
        self.ink
            .iter()
            .map(|c| (255.0 * (1.0 - c)).round() as u8)
            .collect()
    }
}

/// Distance from `p` to the segment `a`-`b`.
fn segment_distance(p: (f32, f32), a: (f32, f32), b: (f32, f32)) -> f32 {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let len2 = dx * dx + dy * dy;
    let t = if len2 > 0.0 {
        (((p.0 - a.0) * dx + (p.1 - a.1) * dy) / len2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let (qx, qy) = (a.0 + t * dx - p.0, a.1 + t * dy - p.1);
    (qx * qx + qy * qy).sqrt()
}

/// Samples a Catmull-Rom spline through `points` with `steps` samples per span (the smooth
/// path a hand moves the pointer along); fewer than three points are returned as they are.
pub fn catmull_rom(points: &[(f32, f32)], steps: usize) -> Vec<(f32, f32)> {
    if points.len() < 3 {
        return points.to_vec();
    }
    let n = points.len();
    let at = |i: isize| points[i.clamp(0, n as isize - 1) as usize];
    let mut out = Vec::with_capacity((n - 1) * steps + 1);
    for i in 0..n - 1 {
        let (p0, p1, p2, p3) = (
            at(i as isize - 1),
            at(i as isize),
            at(i as isize + 1),
            at(i as isize + 2),
        );
        for s in 0..steps {
            let t = s as f32 / steps as f32;
            let (t2, t3) = (t * t, t * t * t);
            let f = |a: f32, b: f32, c: f32, d: f32| {
                0.5 * (2.0 * b
                    + (-a + c) * t
                    + (2.0 * a - 5.0 * b + 4.0 * c - d) * t2
                    + (-a + 3.0 * b - 3.0 * c + d) * t3)
            };
            out.push((f(p0.0, p1.0, p2.0, p3.0), f(p0.1, p1.1, p2.1, p3.1)));
        }
    }
    out.push(points[n - 1]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_horizontal_stroke_covers_its_width_with_round_caps() {
        let mut c = Canvas::new(40, 20);
        c.stroke(&[(10.0, 10.3), (30.0, 10.3)], 6.0);
        let g = c.to_gray();
        let at = |x: usize, y: usize| g[y * 40 + x];
        assert_eq!(at(20, 9), 0, "on the line: full ink");
        assert_eq!(at(20, 12), 0, "inside the 6-pixel width");
        assert_eq!(at(20, 15), 255, "outside");
        assert_eq!(at(8, 9), 0, "round cap past the end point");
        assert_eq!(at(4, 9), 255);
        assert!(
            at(20, 13) > 0 && at(20, 13) < 255,
            "anti-aliased edge: {}",
            at(20, 13)
        );
        let mut dot = Canvas::new(10, 10);
        dot.stroke(&[(5.0, 5.0)], 4.0);
        assert_eq!(dot.to_gray()[4 * 10 + 4], 0, "a tap leaves a dot");
    }

    #[test]
    fn catmull_rom_passes_through_its_points() {
        let pts = [(0.0, 0.0), (10.0, 5.0), (20.0, 0.0), (30.0, 8.0)];
        let path = catmull_rom(&pts, 4);
        assert_eq!(path.len(), 13);
        for (i, p) in pts.iter().enumerate() {
            let q = path[(i * 4).min(12)];
            assert!(
                (q.0 - p.0).abs() < 1e-4 && (q.1 - p.1).abs() < 1e-4,
                "{q:?} vs {p:?}"
            );
        }
    }
}
